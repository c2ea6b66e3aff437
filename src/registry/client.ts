// A client for one registry host speaking the distribution API v2: ping,
// Bearer and Basic auth (tokens cached per scope), manual redirects that never
// carry Authorization to another origin, bounded retries, and manifests read
// with a size cap. Blob bodies are returned as streams, never buffered. The
// requests of a push (POST/PUT/PATCH with Buffer bodies, a pull,push token
// scope) go through the same path; upload.ts builds the push on it.

import type { Readable } from 'node:stream';
import { Agent, request, type Dispatcher, type HttpMethod } from './http.js';
import { findCredentials, type CredentialLookup, type Credentials } from './credentials.js';
import { parseChallenges } from './challenge.js';
import { backoffMs, DEFAULT_RETRY, errorCode, isRetryableError, networkReason, RETRYABLE_STATUS, retryAfterMs, sleep, type RetryPolicy } from './retry.js';
import { secureContextFor, TlsMaterialError, tlsMaterialFor } from './tls.js';
import { CredentialError } from '../errors.js';

export interface RegistryClientOptions {
  /** false: accept plain http and unverified https (for local registries). */
  readonly tlsVerify: boolean;
  readonly certDir?: string;
  readonly certsD?: string;
  readonly credentials: CredentialLookup;
  readonly retry?: RetryPolicy;
  /** No bytes for this long fails the attempt (headers or body). */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
}

/** Failures with an HTTP answer or a network reason; the source maps them to SourceErrors. */
export class RegistryHttpError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    readonly kind: 'auth' | 'not-found' | 'network' | 'tls' | 'registry' | 'protocol',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface RegistryResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Readable & { dump(opts?: { limit: number }): Promise<void> };
  readonly url: string;
}

export interface FetchOptions {
  readonly repository: string;
  readonly accept?: string;
  /** Ask for the bytes from this offset on (a resumed blob). */
  readonly range?: number;
  readonly signal: AbortSignal;
  /** More request headers (content-type, content-range of an upload). */
  readonly headers?: Record<string, string>;
  /** A Buffer, never a stream: an auth challenge or a retry sends it again. */
  readonly body?: Buffer;
  /** Ask for push rights too: the token scope becomes repository:NAME:pull,push. */
  readonly push?: boolean;
  /**
   * false: no automatic retry on a network failure or a 5xx/429 answer, for a
   * request that may have taken effect in part (an upload chunk): sent twice,
   * it could store bytes twice. Default true.
   */
  readonly retry?: boolean;
}

const absolute = (path: string) => /^https?:\/\//.test(path);

const TLS_CODES = /^(ERR_SSL_|ERR_TLS_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|CERT_|HOSTNAME_MISMATCH)/;

function header(headers: RegistryResponse['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Reads a body up to `limit` bytes; throws when it is longer. */
export async function readCapped(body: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw new RegistryHttpError(`${what} is larger than ${limit} bytes; refused`, null, 'protocol');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export class RegistryClient {
  private scheme: 'https' | 'http' | null = null;
  private probing: Promise<string> | null = null;
  private dispatcher: Agent | null = null;
  /** Agents for hosts redirects lead to (blob storage). */
  private readonly otherAgents = new Map<string, Agent>();
  private readonly tokens = new Map<string, string>();
  private readonly pendingTokens = new Map<string, Promise<string>>();
  private credentials: Credentials | null | undefined;
  private basicAuth = false;
  readonly retry: RetryPolicy;

  constructor(
    readonly host: string,
    private readonly options: RegistryClientOptions,
  ) {
    this.retry = options.retry ?? DEFAULT_RETRY;
  }

  private async agent(): Promise<Agent> {
    if (!this.dispatcher) this.dispatcher = await this.makeAgent(this.host);
    return this.dispatcher;
  }

  private async makeAgent(host: string): Promise<Agent> {
    let secureContext;
    try {
      secureContext = secureContextFor(await tlsMaterialFor(host, this.options.certDir, this.options.certsD));
    } catch (err) {
      if (err instanceof TlsMaterialError) throw new RegistryHttpError(`TLS setup for ${host}: ${err.message}`, null, 'tls', { cause: err });
      throw err;
    }
    const timeout = this.options.timeoutMs ?? 60_000;
    return new Agent({
      connect: { secureContext, rejectUnauthorized: this.options.tlsVerify, timeout },
      headersTimeout: timeout,
      bodyTimeout: timeout,
      keepAliveTimeout: 10_000,
      connections: 16,
    });
  }

  private async credentialsFor(repository: string, signal: AbortSignal): Promise<Credentials | null> {
    if (this.credentials === undefined) {
      try {
        this.credentials = (await findCredentials(this.host, repository, this.options.credentials, signal))?.credentials ?? null;
      } catch (err) {
        // An auth file or helper that cannot be used; the source names the image it was for.
        if (err instanceof CredentialError) throw new RegistryHttpError(err.message, null, 'auth', { cause: err });
        throw err;
      }
    }
    return this.credentials;
  }

  /**
   * https; or, when TLS is not verified, http if https does not answer.
   * Only that case probes (once per client: parallel requests share it).
   * With verified TLS the first real request is the probe, which saves a
   * round trip, and its failure reads the same.
   */
  private baseUrl(signal: AbortSignal): Promise<string> {
    if (!this.scheme && this.options.tlsVerify) this.scheme = 'https';
    if (this.scheme) return Promise.resolve(`${this.scheme}://${this.host}`);
    if (!this.probing) {
      this.probing = this.probe(signal);
      // A probe cut short by its caller's signal is not the answer for others.
      this.probing.catch(() => (this.probing = null));
    }
    return this.probing;
  }

  private async probe(signal: AbortSignal): Promise<string> {
    const agent = await this.agent();
    try {
      const res = await request(new URL(`https://${this.host}/v2/`), { method: 'GET', dispatcher: agent, signal, headers: this.baseHeaders() });
      await res.body.dump();
      this.scheme = 'https';
    } catch (err) {
      if (signal.aborted) throw err;
      this.scheme = 'http';
    }
    return `${this.scheme}://${this.host}`;
  }

  private baseHeaders(): Record<string, string> {
    return { 'user-agent': this.options.userAgent ?? 'imgdesc' };
  }

  private networkError(err: unknown, url: string): RegistryHttpError {
    const code = errorCode(err) ?? '';
    if (TLS_CODES.test(code)) {
      return new RegistryHttpError(
        `TLS verification of ${this.host} failed (${code}); trust its CA with --cert-dir DIR or /etc/containers/certs.d/${this.host}/ca.crt, or use --tls-verify=false for a local registry`,
        null,
        'tls',
        { cause: err },
      );
    }
    return new RegistryHttpError(`cannot reach ${url.replace(/\?.*$/, '')}: ${networkReason(err)}`, null, 'network', { cause: err });
  }

  /** Authorization header for a repository scope, if we hold one. */
  private authorization(scope: string): string | undefined {
    const token = this.tokens.get(scope);
    if (token) return `Bearer ${token}`;
    if (this.basicAuth && this.credentials?.kind === 'basic') {
      return `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}`;
    }
    return undefined;
  }

  /** Answers a 401 challenge; false when there is nothing more to try. */
  private async authenticate(challengeHeader: string | undefined, repository: string, scope: string, sent: string | undefined, signal: AbortSignal): Promise<boolean> {
    const challenges = parseChallenges(challengeHeader ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const creds = await this.credentialsFor(repository, signal);
    if (bearer?.params.realm) {
      // A parallel request may already have fetched a newer token for this scope.
      const current = this.tokens.get(scope);
      if (current && sent !== `Bearer ${current}`) return true;
      let pending = this.pendingTokens.get(scope);
      if (!pending) {
        pending = this.fetchToken(bearer.params, scope, creds, signal).finally(() => this.pendingTokens.delete(scope));
        this.pendingTokens.set(scope, pending);
      }
      this.tokens.set(scope, await pending);
      return true;
    }
    if (challenges.some((c) => c.scheme === 'basic')) {
      if (!creds || creds.kind !== 'basic') return false;
      // Sent with Basic already: the registry refused these credentials.
      if (sent?.startsWith('Basic ')) return false;
      this.basicAuth = true;
      return true;
    }
    return false;
  }

  private async fetchToken(params: Record<string, string>, scope: string, creds: Credentials | null, signal: AbortSignal): Promise<string> {
    let realm: URL;
    try {
      realm = new URL(params.realm!);
    } catch {
      throw new RegistryHttpError(`${this.host} names a token realm that is not a URL: ${JSON.stringify(params.realm)}`, null, 'protocol');
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw new RegistryHttpError(`${this.host} names a token realm with an unsupported scheme: ${realm.protocol}`, null, 'protocol');
    }
    const sameHost = realm.host === this.host;
    if (creds && realm.protocol === 'http:' && !sameHost && this.options.tlsVerify) {
      throw new RegistryHttpError(
        `${this.host} sends credentials to token realm ${realm.origin} over plain http on another host; refused (use --tls-verify=false only for trusted local registries)`,
        null,
        'auth',
      );
    }
    const agent = sameHost ? await this.agent() : await this.agentFor(realm.host);
    const headers: Record<string, string> = { ...this.baseHeaders() };
    let method: 'GET' | 'POST' = 'GET';
    let body: string | undefined;
    if (creds?.kind === 'identity-token') {
      method = 'POST';
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.token, service: params.service ?? '', scope, client_id: 'imgdesc' }).toString();
    } else {
      if (params.service) realm.searchParams.set('service', params.service);
      realm.searchParams.append('scope', scope);
      if (creds) headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    }
    let res: Dispatcher.ResponseData;
    try {
      res = await request(realm, { method, headers, body, dispatcher: agent, signal });
    } catch (err) {
      if (signal.aborted) throw err;
      throw this.networkError(err, realm.origin + realm.pathname);
    }
    if (res.statusCode === 401 || res.statusCode === 403) {
      await res.body.dump();
      throw new RegistryHttpError(
        creds ? `the token service ${realm.origin} rejected the credentials for ${this.host} (HTTP ${res.statusCode})` : `the token service ${realm.origin} requires credentials for ${this.host} (HTTP ${res.statusCode}); log in or pass --authfile`,
        res.statusCode,
        'auth',
      );
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new RegistryHttpError(`the token service ${realm.origin} answered HTTP ${res.statusCode}`, res.statusCode, 'registry');
    }
    const text = (await readCapped(res.body, 1024 * 1024, 'token response')).toString('utf8');
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new RegistryHttpError(`the token service ${realm.origin} answered with something that is not JSON`, 200, 'protocol');
    }
    const fields = (typeof doc === 'object' && doc !== null ? doc : {}) as { token?: unknown; access_token?: unknown };
    const token = typeof fields.token === 'string' && fields.token ? fields.token : fields.access_token;
    if (typeof token !== 'string' || !token) throw new RegistryHttpError(`the token service ${realm.origin} answered without a token`, 200, 'protocol');
    return token;
  }

  private async agentFor(host: string): Promise<Agent> {
    let a = this.otherAgents.get(host);
    if (!a) {
      a = await this.makeAgent(host);
      this.otherAgents.set(host, a);
    }
    return a;
  }

  /**
   * A request under /v2/ for a repository, with auth, redirects and retries.
   * `path` is a path on this registry, or an absolute URL it handed out (an
   * upload Location); Authorization goes to this registry's origin only.
   * Non-2xx answers other than 401 are returned to the caller.
   */
  async fetch(method: HttpMethod, path: string, opts: FetchOptions): Promise<RegistryResponse> {
    const scope = `repository:${opts.repository}:${opts.push ? 'pull,push' : 'pull'}`;
    const retries = opts.retry ?? true;
    const signal = opts.signal;
    let attempt = 0;
    let authTried = false;
    for (;;) {
      attempt++;
      let url = absolute(path) ? path : `${this.scheme ?? 'https'}://${this.host}${path}`;
      const headers: Record<string, string> = { ...this.baseHeaders(), ...opts.headers };
      if (opts.accept) headers.accept = opts.accept;
      if (opts.range) headers.range = `bytes=${opts.range}-`;
      const auth = this.authorization(scope);
      if (auth) headers.authorization = auth;
      let res: Dispatcher.ResponseData;
      try {
        const base = await this.baseUrl(signal);
        url = absolute(path) ? path : `${base}${path}`;
        res = await this.follow(method, url, headers, opts.body, new URL(base).origin, signal);
      } catch (err) {
        if (signal.aborted) throw err;
        if (err instanceof RegistryHttpError) throw err;
        const net = this.networkError(err, url);
        if (retries && net.kind === 'network' && isRetryableError(err) && attempt < this.retry.attempts) {
          await sleep(backoffMs(this.retry, attempt, null), signal);
          continue;
        }
        throw net;
      }
      url = (res as Dispatcher.ResponseData & { finalUrl?: string }).finalUrl ?? url;
      if (res.statusCode === 401 && !authTried) {
        await res.body.dump();
        authTried = true;
        if (await this.authenticate(header(res.headers, 'www-authenticate'), opts.repository, scope, auth, signal)) {
          attempt--;
          continue;
        }
        const creds = await this.credentialsFor(opts.repository, signal);
        throw new RegistryHttpError(
          creds ? `${this.host} rejected the credentials (HTTP 401)` : `${this.host} requires authentication (HTTP 401); log in or pass --authfile`,
          401,
          'auth',
        );
      }
      if (res.statusCode === 401) {
        await res.body.dump();
        // Still refused after authenticating (an anonymous token grants nothing).
        const creds = await this.credentialsFor(opts.repository, signal);
        throw new RegistryHttpError(
          creds ? `${this.host} rejected the credentials (HTTP 401)` : `${this.host} requires authentication for ${opts.repository} (HTTP 401); log in or pass --authfile`,
          401,
          'auth',
        );
      }
      if (retries && RETRYABLE_STATUS.has(res.statusCode) && attempt < this.retry.attempts) {
        await res.body.dump();
        await sleep(backoffMs(this.retry, attempt, retryAfterMs(res.headers['retry-after'])), signal);
        continue;
      }
      return { status: res.statusCode, headers: res.headers, body: res.body as RegistryResponse['body'], url };
    }
  }

  /**
   * One request, following up to 5 redirects; Authorization stays with the
   * registry's origin. A request with a body follows only 307/308, which keep
   * method and body; other redirects of it are the caller's to judge.
   */
  private async follow(method: HttpMethod, start: string, headers: Record<string, string>, body: Buffer | undefined, authOrigin: string, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
    let url = new URL(start);
    const followed = method === 'GET' || method === 'HEAD' ? [301, 302, 303, 307, 308] : [307, 308];
    for (let hop = 0; ; hop++) {
      const sameOrigin = url.origin === authOrigin;
      const h = { ...headers };
      if (!sameOrigin) delete h.authorization;
      const dispatcher = sameOrigin ? await this.agent() : await this.agentFor(url.host);
      const res = await request(url, { method, headers: h, body, dispatcher, signal });
      if (followed.includes(res.statusCode)) {
        const location = header(res.headers, 'location');
        await res.body.dump();
        if (!location) throw new RegistryHttpError(`${url.host} answered HTTP ${res.statusCode} without a Location`, res.statusCode, 'protocol');
        if (hop >= 5) throw new RegistryHttpError(`too many redirects from ${start.replace(/\?.*$/, '')}`, res.statusCode, 'protocol');
        const next = new URL(location, url);
        if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new RegistryHttpError(`redirect to unsupported scheme ${next.protocol}`, res.statusCode, 'protocol');
        if (next.protocol === 'http:' && url.protocol === 'https:' && this.options.tlsVerify) {
          throw new RegistryHttpError(`${url.host} redirects from https to plain http (${next.origin}); refused`, res.statusCode, 'protocol');
        }
        url = next;
        continue;
      }
      (res as Dispatcher.ResponseData & { finalUrl?: string }).finalUrl = url.toString();
      return res;
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.dispatcher?.close(), ...[...this.otherAgents.values()].map((a) => a.close())]);
  }
}
