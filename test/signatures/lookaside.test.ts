// Reading simple signatures from a file:// lookaside: where they are, the
// order, the end of the list, and what is refused.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { SourceError } from '../../src/errors.js';
import { Reference } from '../../src/oci/reference.js';
import { attachmentTag } from '../../src/signatures/attachments.js';
import { MAX_SIGNATURE_BYTES, readLookaside, signatureUrl } from '../../src/signatures/lookaside.js';
import { tempDir } from '../helpers/tmp.js';

const DIGEST = `sha256:${'b'.repeat(64)}`;

test('signature URLs name the repository path without its host, and Docker Hub single names under library/', () => {
  assert.equal(signatureUrl('file:///sigs/', Reference.parse('reg.example.com:5000/team/app:1'), DIGEST, 2).href, `file:///sigs/team/app@sha256=${'b'.repeat(64)}/signature-2`);
  assert.equal(signatureUrl('https://s.example.com/x', Reference.parse('docker.io/busybox:1'), DIGEST, 1).href, `https://s.example.com/x/library/busybox@sha256=${'b'.repeat(64)}/signature-1`);
  assert.equal(attachmentTag(DIGEST), `sha256-${'b'.repeat(64)}.sig`);
});

test('signatures are read from 1 up to the first one missing', async (t) => {
  const base = await tempDir(t);
  const dir = join(base, `team/app@sha256=${'b'.repeat(64)}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'signature-1'), 'one');
  await writeFile(join(dir, 'signature-2'), 'two');
  await writeFile(join(dir, 'signature-4'), 'after a gap: not read');
  const got = await readLookaside(`file://${base}`, Reference.parse('r.example.com/team/app:1'), DIGEST, AbortSignal.timeout(5000));
  assert.deepEqual(got.map(String), ['one', 'two']);
  assert.deepEqual(await readLookaside(`file://${base}`, Reference.parse('r.example.com/team/none:1'), DIGEST, AbortSignal.timeout(5000)), []);
});

test('a signature that is a directory or too big is a POLICY failure naming it', async (t) => {
  const base = await tempDir(t);
  const dir = join(base, `app@sha256=${'b'.repeat(64)}`);
  await mkdir(join(dir, 'signature-1'), { recursive: true });
  await assert.rejects(readLookaside(`file://${base}`, Reference.parse('r.example.com/app:1'), DIGEST, AbortSignal.timeout(5000)), (e: unknown) => e instanceof SourceError && e.code === 'IMGDESC_SOURCE_POLICY' && /signature-1: not a regular file/.test(e.message));
  const big = join(base, `big@sha256=${'b'.repeat(64)}`);
  await mkdir(big, { recursive: true });
  await writeFile(join(big, 'signature-1'), Buffer.alloc(MAX_SIGNATURE_BYTES + 1));
  await assert.rejects(readLookaside(`file://${base}`, Reference.parse('r.example.com/big:1'), DIGEST, AbortSignal.timeout(5000)), /over the .*-byte limit/);
});
