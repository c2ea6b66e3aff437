import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openKeyring } from '../../src/policy/gpg.js';
import { gpgSign, makeGpgKey, stopAgent, type GpgKey } from '../helpers/signing-keys.js';

let dir: string;
let key: GpgKey;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imgdesc-gpg-test-'));
  key = await makeGpgKey(dir, 'carol');
});

after(async () => {
  if (key) await stopAgent(key);
  await rm(dir, { recursive: true, force: true });
});

describe('openKeyring: gpgv as the referee of a signed message', () => {
  test('the payload comes back exactly as signed, a final newline and binary bytes included', async () => {
    const keyring = await openKeyring([key.public], new AbortController().signal);
    try {
      for (const payload of [Buffer.from('{"critical":{}}\n'), Buffer.from([0x7b, 0x00, 0xff, 0x0d, 0x0a]), Buffer.from('\n\n')]) {
        const verdict = await keyring.verify(await gpgSign(key, payload), new AbortController().signal);
        assert.ok(verdict.ok, JSON.stringify(verdict));
        assert.deepEqual(verdict.ok && verdict.payload, payload);
      }
    } finally {
      await keyring.close();
    }
  });
});
