import assert from 'node:assert/strict';
import { chmod, writeFile, mkdir, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { exitCodeFor } from '../../src/cli/exit-codes.js';
import { CredentialError } from '../../src/errors.js';
import { authFileCandidates, findCredentials, lookupKeys, MAX_AUTH_FILE_BYTES } from '../../src/registry/credentials.js';
import { tempDir } from '../helpers/tmp.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('credential lookup', () => {
  test('file order follows containers-auth.json(5)', () => {
    const env = { REGISTRY_AUTH_FILE: '/a.json', XDG_RUNTIME_DIR: '/run/user/1', DOCKER_CONFIG: '/dc' };
    assert.deepEqual(authFileCandidates({ env, home: '/h' }), ['/a.json', '/run/user/1/containers/auth.json', '/h/.config/containers/auth.json', '/dc/config.json']);
    assert.deepEqual(authFileCandidates({ env: {}, home: '/h' }), ['/h/.config/containers/auth.json', '/h/.docker/config.json']);
    assert.deepEqual(authFileCandidates({ authFile: '/x.json', env, home: '/h' }), ['/x.json']);
  });

  test('most specific key first', () => {
    assert.deepEqual(lookupKeys('r:5000', 'a/b'), ['r:5000/a/b', 'r:5000/a', 'r:5000']);
  });

  test('a repository-scoped entry beats the host entry; legacy https:// keys work', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'auth.json');
    await writeFile(file, JSON.stringify({ auths: { 'https://r.example.org/v1/': { auth: b64('host:pw1') }, 'r.example.org/team': { auth: b64('team:pw:with:colons') } } }));
    const team = await findCredentials('r.example.org', 'team/app', { authFile: file });
    assert.deepEqual(team?.credentials, { kind: 'basic', username: 'team', password: 'pw:with:colons' });
    const other = await findCredentials('r.example.org', 'other/app', { authFile: file });
    assert.deepEqual(other?.credentials, { kind: 'basic', username: 'host', password: 'pw1' });
    assert.equal(await findCredentials('elsewhere.org', 'x', { authFile: file }), null);
  });

  test('the first file with a match wins', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'home/.config/containers'), { recursive: true });
    await mkdir(join(dir, 'home/.docker'), { recursive: true });
    await writeFile(join(dir, 'home/.config/containers/auth.json'), JSON.stringify({ auths: { 'a.org': { auth: b64('podman:1') } } }));
    await writeFile(join(dir, 'home/.docker/config.json'), JSON.stringify({ auths: { 'a.org': { auth: b64('docker:2') }, 'b.org': { auth: b64('docker:3') } } }));
    const opts = { env: {}, home: join(dir, 'home') };
    assert.equal((await findCredentials('a.org', 'x', opts))?.credentials.kind === 'basic' && (await findCredentials('a.org', 'x', opts))?.origin, join(dir, 'home/.config/containers/auth.json'));
    const b = await findCredentials('b.org', 'x', opts);
    assert.deepEqual(b?.credentials, { kind: 'basic', username: 'docker', password: '3' });
  });

  test('credHelpers run docker-credential-<name> get with the host on stdin', async (t) => {
    const dir = await tempDir(t);
    const helper = join(dir, 'docker-credential-imgdesctest');
    await writeFile(helper, '#!/bin/sh\nread host\nif [ "$host" = "h.example.org" ]; then echo "{\\"Username\\":\\"u-$host\\",\\"Secret\\":\\"s3cret\\"}"; else echo "credentials not found in native keychain"; exit 1; fi\n');
    await chmod(helper, 0o755);
    const file = join(dir, 'auth.json');
    await writeFile(file, JSON.stringify({ credHelpers: { 'h.example.org': 'imgdesctest', 'n.example.org': 'imgdesctest' } }));
    const oldPath = process.env.PATH;
    process.env.PATH = `${dir}:${oldPath}`;
    t.after(() => {
      process.env.PATH = oldPath;
    });
    const found = await findCredentials('h.example.org', 'x', { authFile: file });
    assert.deepEqual(found?.credentials, { kind: 'basic', username: 'u-h.example.org', password: 's3cret' });
    assert.equal(found?.origin, 'docker-credential-imgdesctest');
    assert.equal(await findCredentials('n.example.org', 'x', { authFile: file }), null);
  });

  test('broken files and missing helpers are clear errors that never show the secret', async (t) => {
    const dir = await tempDir(t);
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"auths": {"a.org": {"auth": "' + b64('nocolon-secret') + '"}}}');
    await assert.rejects(findCredentials('a.org', 'x', { authFile: bad }), (e: Error) => /not base64 of "user:password"/.test(e.message) && !e.message.includes('nocolon-secret'));
    await writeFile(bad, '{not json');
    await assert.rejects(findCredentials('a.org', 'x', { authFile: bad }), /is not valid JSON/);
    await writeFile(bad, JSON.stringify({ credHelpers: { 'a.org': 'does-not-exist-xyz' } }));
    await assert.rejects(findCredentials('a.org', 'x', { authFile: bad }), /docker-credential-does-not-exist-xyz is configured for a\.org but not installed/);
    await assert.rejects(findCredentials('a.org', 'x', { authFile: join(dir, 'missing.json') }), /auth file .*missing\.json does not exist/);
  });
});

describe('hostile auth files: a CredentialError (exit 4) naming the file and what is wrong, never the secret', () => {
  const SECRET = 'hunter2-secret';
  const json = (doc: unknown) => JSON.stringify(doc);
  const CASES: ReadonlyArray<readonly [string, (file: string) => Promise<unknown>, RegExp]> = [
    ['truncated JSON', (f) => writeFile(f, `{"auths": {"a.org": {"auth": "${b64(`u:${SECRET}`)}"`), /is not valid JSON \(it ends too early\)/],
    ['a secret where the syntax breaks', (f) => writeFile(f, `{"auths": {"a.org": {"password": ${SECRET}}}}`), /is not valid JSON/],
    ['a JSON string', (f) => writeFile(f, json(SECRET)), /it is a string, not a JSON object/],
    ['auths an array', (f) => writeFile(f, json({ auths: [SECRET] })), /"auths" is an array; expected an object/],
    ['an entry that is null', (f) => writeFile(f, json({ auths: { 'a.org': null } })), /auths\["a\.org"\] is null; expected an object/],
    ['auth a number', (f) => writeFile(f, json({ auths: { 'a.org': { auth: 5 } } })), /auths\["a\.org"\]\.auth is a number; expected a string/],
    ['identitytoken an array', (f) => writeFile(f, json({ auths: { 'a.org': { identitytoken: [SECRET] } } })), /auths\["a\.org"\]\.identitytoken is an array/],
    ['auth not base64', (f) => writeFile(f, json({ auths: { 'a.org': { auth: `${SECRET}%%` } } })), /the "auth" value is not base64 of "user:password"/],
    ['auth base64 of a string without a colon', (f) => writeFile(f, json({ auths: { 'a.org': { auth: b64(SECRET) } } })), /the "auth" value is not base64 of "user:password"/],
    ['auth base64 of ":password" (no user)', (f) => writeFile(f, json({ auths: { 'a.org': { auth: b64(`:${SECRET}`) } } })), /the "auth" value is not base64 of "user:password"/],
    ['credHelpers a string', (f) => writeFile(f, json({ credHelpers: 'x' })), /"credHelpers" is a string/],
    ['a helper name that is a path', (f) => writeFile(f, json({ credHelpers: { 'a.org': '/bin/sh' } })), /credHelpers\["a\.org"\] is not a helper name/],
    ['credsStore a number', (f) => writeFile(f, json({ credsStore: 1 })), /"credsStore" is not a helper name/],
    ['random bytes', (f) => writeFile(f, Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x80])), /cannot be read: it is binary, not text/],
    ['a directory', (f) => mkdir(f), /cannot be read: it is a directory/],
    ['over the size limit', async (f) => (await writeFile(f, ''), truncate(f, MAX_AUTH_FILE_BYTES + 1)), /cannot be read: it is \d+ bytes, over the limit/],
  ];
  for (const [name, make, why] of CASES) {
    test(name, async (t) => {
      const file = join(await tempDir(t), 'auth.json');
      await make(file);
      await assert.rejects(findCredentials('a.org', 'x', { authFile: file }), (e: unknown) => {
        assert.ok(e instanceof CredentialError, String(e));
        assert.equal(e.file, file);
        assert.equal(exitCodeFor(e), 4);
        assert.ok(e.message.includes(file), e.message);
        assert.match(e.message, why);
        assert.ok(!e.message.includes(SECRET) && !e.message.includes(b64(SECRET)), e.message);
        return true;
      });
    });
  }

  test('an empty auth file holds no credentials', async (t) => {
    const file = join(await tempDir(t), 'auth.json');
    await writeFile(file, '\n');
    assert.equal(await findCredentials('a.org', 'x', { authFile: file }), null);
  });

  test('in the default lookup an absent file is skipped, but a broken one is an error naming it', async (t) => {
    const home = await tempDir(t);
    const opts = { env: {}, home };
    assert.equal(await findCredentials('a.org', 'x', opts), null);
    await mkdir(join(home, '.config/containers/auth.json'), { recursive: true });
    await assert.rejects(findCredentials('a.org', 'x', opts), (e: unknown) => e instanceof CredentialError && e.file === join(home, '.config/containers/auth.json') && /it is a directory/.test(e.message));
  });

  test('a credential helper answering JSON of the wrong shape', async (t) => {
    const dir = await tempDir(t);
    const helper = join(dir, 'docker-credential-imgdesc-odd');
    await writeFile(helper, `#!/bin/sh\necho '{"Username": 1, "Secret": ["${SECRET}"]}'\n`);
    await chmod(helper, 0o755);
    const file = join(dir, 'auth.json');
    await writeFile(file, JSON.stringify({ credHelpers: { 'a.org': 'imgdesc-odd' } }));
    const oldPath = process.env.PATH;
    process.env.PATH = `${dir}:${oldPath}`;
    t.after(() => {
      process.env.PATH = oldPath;
    });
    await assert.rejects(findCredentials('a.org', 'x', { authFile: file }), (e: unknown) => e instanceof CredentialError && /returned JSON that is not \{"Username": string, "Secret": string\}/.test(e.message) && !e.message.includes(SECRET));
  });
});
