// A fault-injecting HTTP proxy in front of a real test registry. It forwards
// every request unchanged unless the test's rule returns a fault for it; then
// it answers with an error status, breaks or stalls the body, changes bytes,
// redirects, rewrites headers, or serves a document of the test's choosing.
// It stands in for nothing: without a fault, the registry answers. It speaks
// http, or https with a test CA's certificate.

import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** 1 for the first request of this method and path, 2 for the second… */
  readonly nth: number;
  /** Date.now() when it arrived. */
  readonly at: number;
}

export type Fault =
  /** Answer with this status (and headers/body) instead of the registry. */
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string | Buffer; chunked?: boolean }
  /** Close the connection without answering. */
  | { kind: 'drop' }
  /** Forward without the Range header, as a server that ignores ranges would answer. */
  | { kind: 'ignore-range' }
  /** Forward, but cut the connection after this many body bytes. */
  | { kind: 'reset'; afterBytes: number }
  /** Forward, but send nothing more after this many body bytes (the socket stays open). */
  | { kind: 'stall'; afterBytes: number }
  /** Forward only the first bytes, declaring that shorter length. */
  | { kind: 'truncate'; toBytes: number }
  /** Forward, then send extra bytes, declaring the longer length. */
  | { kind: 'append'; bytes: Buffer }
  /** Forward with the byte at this offset inverted. */
  | { kind: 'flip'; at: number }
  /** Forward, passing response headers through this function first. */
  | { kind: 'headers'; rewrite(headers: Record<string, string | string[] | undefined>): void };

export type FaultRule = (req: SeenRequest) => Fault | undefined;

export interface FaultProxy {
  /** host:port, for references. */
  readonly host: string;
  readonly requests: SeenRequest[];
  rule: FaultRule;
  /** Sets a new rule and forgets the requests seen so far. */
  use(rule: FaultRule): void;
  stop(): Promise<void>;
}

export interface FaultProxyOptions {
  /** Address to listen on (default 127.0.0.1). */
  listen?: string;
  /** Serve https with this certificate instead of plain http. */
  tls?: { cert: Buffer; key: Buffer };
}

/** Starts a proxy forwarding to http://upstream (host:port). */
export async function startFaultProxy(upstream: string, rule: FaultRule = () => undefined, options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const listen = options.listen ?? '127.0.0.1';
  const [upHost, upPort] = upstream.split(':') as [string, string];
  const requests: SeenRequest[] = [];
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const proxy: FaultProxy = {
    host: '',
    requests,
    rule,
    use(rule) {
      proxy.rule = rule;
      requests.length = 0;
      counts.clear();
    },
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(() => r(undefined)));
    },
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const key = `${req.method} ${req.url}`;
    const nth = (counts.get(key) ?? 0) + 1;
    counts.set(key, nth);
    const seen: SeenRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: { ...req.headers }, nth, at: Date.now() };
    requests.push(seen);
    const fault = proxy.rule(seen);
    if (fault?.kind === 'drop') {
      req.socket.resetAndDestroy();
      return;
    }
    if (fault?.kind === 'status') {
      const body = fault.body === undefined ? Buffer.alloc(0) : Buffer.from(fault.body);
      res.writeHead(fault.status, { ...(fault.chunked ? {} : { 'content-length': String(body.length) }), ...fault.headers });
      // Chunked: in 64 KiB pieces, so a reader can stop early.
      for (let i = 0; fault.chunked && i < body.length; i += 65536) res.write(body.subarray(i, i + 65536));
      res.end(fault.chunked ? undefined : body);
      return;
    }
    const headers = { ...req.headers, host: upstream };
    if (fault?.kind === 'ignore-range') delete headers.range;
    const up = httpRequest({ host: upHost, port: Number(upPort), method: req.method, path: req.url, headers }, (upRes) => {
      respond(upRes, res, fault?.kind === 'ignore-range' ? undefined : fault);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  };
  const server: Server = options.tls ? createHttpsServer(options.tls, handler) : createServer(handler);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, listen, () => r()));
  (proxy as { host: string }).host = `${listen}:${(server.address() as AddressInfo).port}`;
  return proxy;
}

function respond(upRes: IncomingMessage, res: ServerResponse, fault: Exclude<Fault, { kind: 'status' } | { kind: 'drop' } | { kind: 'ignore-range' }> | undefined): void {
  const headers: Record<string, string | string[] | undefined> = { ...upRes.headers };
  const status = upRes.statusCode ?? 502;
  if (!fault || status >= 300) {
    if (fault?.kind === 'headers') fault.rewrite(headers);
    res.writeHead(status, headers);
    upRes.pipe(res);
    return;
  }
  const length = Number(headers['content-length'] ?? NaN);
  switch (fault.kind) {
    case 'headers':
      fault.rewrite(headers);
      res.writeHead(status, headers);
      upRes.pipe(res);
      return;
    case 'truncate':
      headers['content-length'] = String(Math.min(fault.toBytes, length));
      break;
    case 'append':
      headers['content-length'] = String(length + fault.bytes.length);
      break;
  }
  res.writeHead(status, headers);
  // reset, stall and truncate stop forwarding at `limit` bytes.
  const limit = fault.kind === 'truncate' ? fault.toBytes : fault.kind === 'reset' || fault.kind === 'stall' ? fault.afterBytes : Infinity;
  let sent = 0;
  upRes.on('data', (chunk: Buffer) => {
    const from = sent;
    sent += chunk.length;
    if (from >= limit) return;
    if (sent >= limit) {
      upRes.destroy();
      // A reset discards what the kernel has not sent yet: give the client time to take the bytes first.
      res.write(chunk.subarray(0, limit - from), () => fault.kind === 'reset' && setTimeout(() => res.socket?.resetAndDestroy(), 300));
      if (fault.kind === 'truncate') res.end();
      return;
    }
    if (fault.kind === 'flip' && fault.at >= from && fault.at < sent) {
      chunk = Buffer.from(chunk);
      chunk[fault.at - from] = chunk[fault.at - from]! ^ 0xff;
    }
    res.write(chunk);
  });
  upRes.on('end', () => {
    if (sent < limit || limit === Infinity) res.end(fault.kind === 'append' ? fault.bytes : undefined);
  });
}

/** A second server (another loopback address) that serves registry blob files and records what it was sent. */
export async function startBlobHost(
  blobFile: (digest: string) => string,
  listen = '127.0.0.2',
): Promise<{ origin: string; requests: SeenRequest[]; stop(): Promise<void> }> {
  const { createReadStream } = await import('node:fs');
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: { ...req.headers }, nth: requests.length + 1, at: Date.now() });
    const digest = /\/(sha256:[a-f0-9]{64})/.exec(req.url ?? '')?.[1];
    if (!digest) {
      res.writeHead(404).end();
      return;
    }
    const stream = createReadStream(blobFile(digest));
    stream.once('error', () => res.writeHead(404).end());
    stream.once('open', () => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      stream.pipe(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, listen, () => r()));
  return {
    origin: `http://${listen}:${(server.address() as AddressInfo).port}`,
    requests,
    stop: () => new Promise((r) => server.close(() => r())),
  };
}
