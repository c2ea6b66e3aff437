// TLS trust for one registry host, as podman reads it: certs.d/<host>/*.crt
// CAs, a *.cert/*.key client pair, and --cert-dir.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, createServer, type SecureContext, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { secureContextFor, TlsMaterialError, tlsMaterialFor } from '../../src/registry/tls.js';
import { makeCa } from '../helpers/registry.js';
import { tempDir } from '../helpers/tmp.js';

const exec = promisify(execFile);
const HOST = '127.0.0.1:5443';

describe('tlsMaterialFor', () => {
  test('reads every *.crt of certs.d/<host:port>/ as a CA, in name order, and ignores other files', async (t) => {
    const certsD = await tempDir(t);
    await mkdir(join(certsD, HOST));
    await mkdir(join(certsD, 'other.example.org'));
    await writeFile(join(certsD, HOST, 'b.crt'), 'CA B');
    await writeFile(join(certsD, HOST, 'a.crt'), 'CA A');
    await writeFile(join(certsD, HOST, 'README'), 'not a cert');
    await writeFile(join(certsD, 'other.example.org', 'c.crt'), 'CA of another host');
    const tls = await tlsMaterialFor(HOST, undefined, certsD);
    assert.deepEqual(tls.ca, ['CA A', 'CA B']);
    assert.deepEqual(tls.files, [join(certsD, HOST, 'a.crt'), join(certsD, HOST, 'b.crt')]);
    assert.equal(tls.cert, undefined);
    assert.equal(tls.key, undefined);
  });

  test('--cert-dir adds its CAs after those of certs.d', async (t) => {
    const certsD = await tempDir(t);
    const certDir = await tempDir(t);
    await mkdir(join(certsD, HOST));
    await writeFile(join(certsD, HOST, 'ca.crt'), 'from certs.d');
    await writeFile(join(certDir, 'ca.crt'), 'from --cert-dir');
    assert.deepEqual((await tlsMaterialFor(HOST, certDir, certsD)).ca, ['from certs.d', 'from --cert-dir']);
  });

  test('a client certificate pair: NAME.cert with NAME.key', async (t) => {
    const certsD = await tempDir(t);
    await mkdir(join(certsD, HOST));
    await writeFile(join(certsD, HOST, 'client.cert'), 'CERT');
    await writeFile(join(certsD, HOST, 'client.key'), 'KEY');
    const tls = await tlsMaterialFor(HOST, undefined, certsD);
    assert.equal(tls.cert, 'CERT');
    assert.equal(tls.key, 'KEY');
    assert.deepEqual(tls.ca, [], 'a .cert is not a CA');
    assert.deepEqual(tls.files, [join(certsD, HOST, 'client.cert'), join(certsD, HOST, 'client.key')]);
  });

  test('a .cert without its .key is an error naming both files', async (t) => {
    const certsD = await tempDir(t);
    await mkdir(join(certsD, HOST));
    await writeFile(join(certsD, HOST, 'client.cert'), 'CERT');
    await writeFile(join(certsD, HOST, 'other.key'), 'KEY of another pair');
    await assert.rejects(tlsMaterialFor(HOST, undefined, certsD), (err: Error) => {
      assert.ok(err.message.includes(join(certsD, HOST, 'client.cert')), err.message);
      assert.ok(err.message.includes(join(certsD, HOST, 'client.key')), err.message);
      return true;
    });
  });

  test('a *.crt or *.key that cannot be read is a TlsMaterialError naming it', async (t) => {
    const certsD = await tempDir(t);
    await mkdir(join(certsD, HOST, 'ca.crt'), { recursive: true });
    await assert.rejects(tlsMaterialFor(HOST, undefined, certsD), (e: unknown) => e instanceof TlsMaterialError && e.message === `cannot read ${join(certsD, HOST, 'ca.crt')}: it is a directory`);
    const other = await tempDir(t);
    await mkdir(join(other, HOST, 'client.key'), { recursive: true });
    await writeFile(join(other, HOST, 'client.cert'), 'CERT');
    await assert.rejects(tlsMaterialFor(HOST, undefined, other), (e: unknown) => e instanceof TlsMaterialError && e.message.includes(`${join(other, HOST, 'client.key')}: it is a directory`));
  });

  test('a binary *.crt (DER) is passed on as before, for OpenSSL to ignore', async (t) => {
    const certsD = await tempDir(t);
    await mkdir(join(certsD, HOST));
    await writeFile(join(certsD, HOST, 'der.crt'), Buffer.from([0x30, 0x82, 0x00, 0x01, 0xff]));
    assert.equal((await tlsMaterialFor(HOST, undefined, certsD)).ca.length, 1);
  });

  test('no directory for the host, or a --cert-dir that does not exist: nothing extra', async (t) => {
    const certsD = await tempDir(t);
    assert.deepEqual(await tlsMaterialFor(HOST, join(certsD, 'absent'), certsD), { ca: [], files: [] });
  });
});

describe('secureContextFor', () => {
  test('undefined without extra CAs or a client certificate (the system defaults apply)', () => {
    assert.equal(secureContextFor({ ca: [], files: [] }), undefined);
  });

  // A real TLS server with a throwaway CA that asks for a client certificate.
  let ca: { caCert: string; cert: string; key: string };
  let client: { cert: string; key: string };
  let caDir: string;
  before(async () => {
    caDir = await mkdtemp(join(tmpdir(), 'imgdesc-test-ca-'));
    ca = await makeCa(caDir);
    client = { cert: join(caDir, 'client.cert'), key: join(caDir, 'client.key') };
    const csr = join(caDir, 'client.csr');
    const ext = join(caDir, 'client.ext');
    await writeFile(ext, 'extendedKeyUsage=clientAuth\n');
    await exec('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', client.key, '-out', csr, '-subj', '/CN=imgdesc test client']);
    await exec('openssl', ['x509', '-req', '-in', csr, '-CA', ca.caCert, '-CAkey', join(caDir, 'ca.key'), '-CAcreateserial', '-out', client.cert, '-days', '2', '-extfile', ext]);
  });
  after(() => rm(caDir, { recursive: true, force: true }));

  /** Connects to a server of the test CA; resolves with whom the server saw, or rejects with the client's TLS error. */
  async function handshake(t: { after(fn: () => unknown): void }, secureContext: SecureContext | undefined): Promise<string | null> {
    const server = createServer({ cert: await readFile(ca.cert), key: await readFile(ca.key), ca: await readFile(ca.caCert), requestCert: true, rejectUnauthorized: false }, (s: TLSSocket) => {
      const peer = s.getPeerCertificate();
      s.end(s.authorized ? String(peer.subject.CN) : '-');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => new Promise<void>((r) => server.close(() => r())));
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, secureContext, rejectUnauthorized: true });
      let got = '';
      socket.on('data', (c: Buffer) => (got += c.toString()));
      socket.on('end', () => resolve(got === '-' ? null : got));
      socket.on('error', reject);
    });
  }

  test('with the CA from certs.d, the registry certificate is trusted; without it, it is not', async (t) => {
    const certsD = await tempDir(t);
    await mkdir(join(certsD, HOST));
    await writeFile(join(certsD, HOST, 'ca.crt'), await readFile(ca.caCert));
    assert.equal(await handshake(t, secureContextFor(await tlsMaterialFor(HOST, undefined, certsD))), null, 'trusted, no client certificate sent');
    await assert.rejects(handshake(t, secureContextFor(await tlsMaterialFor(HOST, undefined, join(certsD, 'absent')))), (err: NodeJS.ErrnoException) =>
      /SELF_SIGNED|UNABLE_TO/.test(String(err.code)),
    );
  });

  test('the client certificate pair is presented to the server', async (t) => {
    const certsD = await tempDir(t);
    await mkdir(join(certsD, HOST));
    await writeFile(join(certsD, HOST, 'ca.crt'), await readFile(ca.caCert));
    await writeFile(join(certsD, HOST, 'me.cert'), await readFile(client.cert));
    await writeFile(join(certsD, HOST, 'me.key'), await readFile(client.key));
    assert.equal(await handshake(t, secureContextFor(await tlsMaterialFor(HOST, undefined, certsD))), 'imgdesc test client');
  });
});
