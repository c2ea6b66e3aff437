import assert from 'node:assert/strict';
import { chmod, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { authFileCandidates, findCredentials, lookupKeys } from '../../src/registry/credentials.js';
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
