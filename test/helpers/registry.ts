// A real registry for integration tests: distribution's `docker-registry`
// (Debian package docker-registry) on 127.0.0.1 with a free port and its own
// storage, in one of three shapes:
//   plain   - http, anonymous
//   tls     - https with a throwaway CA, htpasswd basic auth
//   token   - http, bearer tokens from a small token service run here (the
//             registry verifies them against the service's certificate)
// Its access log is parsed so tests can count what a build asked for.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { createHash, createSign, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export type RegistryShape = 'plain' | 'tls' | 'token';

export interface AccessEntry {
  method: string;
  path: string;
  status: number;
}

export interface TestRegistry {
  /** host:port, as it appears in references. */
  readonly host: string;
  readonly url: string;
  readonly shape: RegistryShape;
  /** Where the registry keeps its data (to corrupt a blob on purpose). */
  readonly storage: string;
  /** For tls: a directory holding ca.crt, usable as --cert-dir. */
  readonly certDir?: string;
  /** For tls and token: a user the registry accepts. */
  readonly user?: { username: string; password: string };
  /** Requests the registry answered so far. */
  accessLog(): Promise<AccessEntry[]>;
  /** Requests the token service answered (token shape only). */
  tokenRequests(): Array<{ scope: string[]; authorized: boolean; sent: string | null }>;
  /** skopeo flags for pushing to / reading from this registry. */
  skopeoDestFlags(): string[];
  skopeoSrcFlags(): string[];
  /** Path of the blob's data file in the registry storage. */
  blobDataPath(digest: string): string;
  /** CPU seconds (user + system) the registry process has used so far, from /proc: what serving a run cost it. */
  cpuSeconds(): Promise<number>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function makeCa(dir: string): Promise<{ caCert: string; cert: string; key: string }> {
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.crt');
  const key = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const cert = join(dir, 'server.crt');
  const ext = join(dir, 'server.ext');
  await exec('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', caCert, '-days', '2', '-subj', '/CN=imgdesc test CA']);
  await exec('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=127.0.0.1']);
  await writeFile(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await exec('openssl', ['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
  return { caCert, cert, key };
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

interface TokenService {
  server: Server;
  realm: string;
  /** sent: the Basic credentials sent (user:password), null when none were. */
  requests: Array<{ scope: string[]; authorized: boolean; sent: string | null }>;
}

/** A token service in the style of docker/distribution's token auth: Basic credentials in, JWT out. */
async function startTokenService(dir: string, user: { username: string; password: string }, service: string, issuer: string): Promise<{ svc: TokenService; bundle: string }> {
  const key = join(dir, 'token.key');
  const cert = join(dir, 'token.crt');
  await exec('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=imgdesc token issuer']);
  const keyPem = await readFile(key, 'utf8');
  const certDer = Buffer.from(
    (await readFile(cert, 'utf8')).replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''),
    'base64',
  );
  const requests: TokenService['requests'] = [];
  const expected = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString('base64')}`;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const scopes = url.searchParams.getAll('scope');
    const authorized = req.headers.authorization === expected;
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    const sent = basic ? Buffer.from(basic[1]!, 'base64').toString() : null;
    requests.push({ scope: scopes, authorized, sent });
    if (req.headers.authorization && !authorized) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
      return;
    }
    // Anonymous callers get a token without access: the registry then answers 401/denied.
    const access = authorized
      ? scopes.map((s) => {
          const [type, name, actions] = s.split(':');
          return { type, name, actions: (actions ?? '').split(',').filter(Boolean) };
        })
      : [];
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [certDer.toString('base64')] };
    const claims = { iss: issuer, sub: authorized ? user.username : '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(signingInput).sign(keyPem);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: `${signingInput}.${b64url(signature)}`, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return { svc: { server, realm: `http://127.0.0.1:${port}/token`, requests }, bundle: cert };
}

// Combined log format lines: 127.0.0.1 - - [date] "GET /v2/x HTTP/1.1" 200 123 "" "ua"
const ACCESS = /"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3}) /;

/**
 * `proxyOf`: run as a pull-through cache of this registry URL (distribution's proxy mode).
 * `accessLog: false` (benchmarks): the registry writes no line per request, so the
 * CPU it shares with the tools under measurement goes to serving them.
 */
export async function startRegistry(shape: RegistryShape = 'plain', options: { proxyOf?: string; accessLog?: boolean } = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'imgdesc-registry-'));
  const storage = join(dir, 'storage');
  await mkdir(storage);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const user = shape === 'plain' ? undefined : { username: 'builder', password: `pw-${randomBytes(6).toString('hex')}` };
  let certDir: string | undefined;
  let token: TokenService | undefined;
  const config: string[] = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    `    disabled: ${options.accessLog === false}`,
    'storage:',
    `  filesystem: { rootdirectory: ${JSON.stringify(storage)} }`,
    '  delete: { enabled: true }',
    '  cache: { blobdescriptor: inmemory }',
    'http:',
    `  addr: ${host}`,
    '  headers:',
    '    X-Content-Type-Options: [nosniff]',
  ];
  if (shape === 'tls') {
    const { caCert, cert, key } = await makeCa(dir);
    certDir = join(dir, 'certs');
    await mkdir(certDir);
    await writeFile(join(certDir, 'ca.crt'), await readFile(caCert));
    config.push('  tls:', `    certificate: ${JSON.stringify(cert)}`, `    key: ${JSON.stringify(key)}`);
    const { stdout } = await exec('htpasswd', ['-Bbn', user!.username, user!.password]);
    await writeFile(join(dir, 'htpasswd'), stdout);
    config.push('auth:', '  htpasswd:', '    realm: imgdesc-test', `    path: ${JSON.stringify(join(dir, 'htpasswd'))}`);
  }
  if (shape === 'token') {
    const started = await startTokenService(dir, user!, 'imgdesc-test-registry', 'imgdesc-test-issuer');
    token = started.svc;
    config.push(
      'auth:',
      '  token:',
      `    realm: ${token.realm}`,
      '    service: imgdesc-test-registry',
      '    issuer: imgdesc-test-issuer',
      `    rootcertbundle: ${JSON.stringify(started.bundle)}`,
    );
  }
  if (options.proxyOf) config.push('proxy:', `  remoteurl: ${options.proxyOf}`);
  const configFile = join(dir, 'config.yml');
  await writeFile(configFile, config.join('\n') + '\n');
  const logFile = join(dir, 'access.log');
  let log = '';
  const child: ChildProcess = spawn('docker-registry', ['serve', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const url = `${shape === 'tls' ? 'https' : 'http'}://${host}`;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  // Wait until it answers on its port.
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited at start:\n${log}`);
    if (await canConnect(port)) break;
    if (Date.now() > deadline) throw new Error(`docker-registry did not listen on ${host}:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }

  const tlsFlags = (side: 'src' | 'dest') =>
    shape === 'tls' ? [`--${side}-cert-dir`, certDir!, `--${side}-creds`, `${user!.username}:${user!.password}`] : shape === 'token' ? [`--${side}-tls-verify=false`, `--${side}-creds`, `${user!.username}:${user!.password}`] : [`--${side}-tls-verify=false`];

  return {
    host,
    url,
    shape,
    storage,
    certDir,
    user,
    async accessLog() {
      await writeFile(logFile, log);
      return log
        .split('\n')
        .map((l) => ACCESS.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ method: m[1]!, path: m[2]!, status: Number(m[3]) }));
    },
    tokenRequests: () => token?.requests ?? [],
    skopeoDestFlags: () => tlsFlags('dest'),
    skopeoSrcFlags: () => tlsFlags('src'),
    blobDataPath(digest: string) {
      const hex = digest.slice('sha256:'.length);
      return join(storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    },
    async cpuSeconds() {
      // Fields 14 and 15 of /proc/PID/stat, in clock ticks (100 per second on Linux); the name in
      // field 2 has no spaces here ("docker-registry"), so splitting on spaces counts right.
      const fields = (await readFile(`/proc/${child.pid}/stat`, 'utf8')).split(' ');
      return (Number(fields[13]) + Number(fields[14])) / 100;
    },
    async stop() {
      process.removeListener('exit', killOnExit);
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      child.kill('SIGKILL');
      if (token) await new Promise((r) => token!.server.close(() => r(undefined)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** sha256 of a buffer, as an OCI digest. */
export const digestOf = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
