// The code each file thread runs (FileWorkers in file-workers.ts): hashing,
// measuring gzip layers, and copying blob files into archives.
//
// Plain JavaScript run with `eval`: a separate module file would have to be
// found both in dist/ and, under tsx, in src/ as TypeScript, which workers
// cannot load on Node 20. JOBS_SOURCE defines the jobs (hash, copy) and the
// page-aligned buffers they read into, and nothing else, so that small jobs
// can run the very same code on the calling thread (FileWorkers.inline), and
// copies on libuv's pool read into the same kind of buffer.
export const JOBS_SOURCE = `
const { openSync, readSync, writeSync, closeSync } = require('node:fs');
// One reused buffer: fresh ones would pile up as garbage until the thread's
// next collection, tens of MB per thread. It is page-aligned: a large
// Buffer.allocUnsafe comes from malloc 16 bytes past a page boundary, and the
// kernel copies file pages into such a buffer about 4 times slower (300 MB:
// 136 ms against 35 ms here). WebAssembly memory is always page-aligned.
function alignedBuffer(size) {
  try {
    return Buffer.from(new WebAssembly.Memory({ initial: size / 65536 }).buffer);
  } catch {
    return Buffer.allocUnsafe(size);
  }
}
const buffer = alignedBuffer(1 << 20);
// Counts the bytes a gzip stream (of one or more members) inflates to, into
// one reused output buffer. zlib's streams allocate a fresh buffer for every
// output chunk: as much garbage as the layer is large. So this drives the
// engine the way zlib's own *Sync functions do (handle.writeSync, which
// reports avail_out and avail_in in _writeState) and falls back to the
// public stream when a Node lacks that.
let inflated;
function gunzipCounter(publicOnly) {
  // Loaded when first needed: a warm build never decompresses.
  const zlib = require('node:zlib');
  inflated ??= alignedBuffer(1 << 20);
  const gz = zlib.createGunzip({ chunkSize: 1 << 20 });
  const handle = gz._handle;
  const state = gz._writeState;
  let total = 0;
  let failed = false;
  if (publicOnly || !handle || typeof handle.writeSync !== 'function' || !(state instanceof Uint32Array)) {
    gz.on('data', (c) => (total += c.length));
    gz.on('error', () => (failed = true));
    const ended = new Promise((resolve) => { gz.once('end', resolve); gz.once('error', resolve); });
    // The chunk is copied (the read buffer is reused) and the next read waits
    // for the gunzip to drain or fail, so at most one chunk is ever queued.
    const drained = () => new Promise((resolve) => {
      const go = () => { gz.off('drain', go); gz.off('error', go); resolve(); };
      gz.once('drain', go);
      gz.once('error', go);
    });
    return {
      push: (chunk) => (failed || gz.write(Buffer.from(chunk)) ? undefined : drained()),
      end: async () => { if (!failed) gz.end(); await ended; return failed ? null : total; },
    };
  }
  handle.onerror = () => (failed = true);
  const step = (flush, chunk) => {
    let offset = 0;
    let left = chunk.length;
    for (;;) {
      handle.writeSync(flush, chunk, offset, left, inflated, 0, inflated.length);
      if (failed) return;
      const [outLeft, inLeft] = state;
      total += inflated.length - outLeft;
      offset += left - inLeft;
      left = inLeft;
      // Output room to spare: the engine took all it could of this input.
      if (outLeft !== 0) return;
    }
  };
  return {
    push: (chunk) => { if (!failed) step(zlib.constants.Z_NO_FLUSH, chunk); },
    end: async () => {
      if (!failed) step(zlib.constants.Z_FINISH, Buffer.alloc(0));
      gz.close();
      return failed ? null : total;
    },
  };
}
async function hash({ file, algorithm, limit, gunzip, publicGunzip }) {
  // Loaded when first needed: crypto adds ~10 ms to a thread's boot, and a
  // warm build's threads only copy.
  const { createHash } = require('node:crypto');
  const fd = openSync(file, 'r');
  const h = createHash(algorithm);
  const counter = gunzip ? gunzipCounter(publicGunzip) : null;
  let size = 0;
  try {
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      size += n;
      if (size > limit) break;
      const chunk = buffer.subarray(0, n);
      h.update(chunk);
      if (counter) await counter.push(chunk);
    }
  } finally {
    closeSync(fd);
  }
  if (size > limit) return { size, hex: null };
  return { size, hex: h.digest('hex'), unpacked: counter ? await counter.end() : undefined };
}
// Writes the file's first length bytes at position in fd, never past them;
// size is what the file holds, up to one read beyond length.
function copy({ file, fd, position, length }) {
  const from = openSync(file, 'r');
  let size = 0;
  try {
    for (;;) {
      const n = readSync(from, buffer, 0, buffer.length, null);
      if (n === 0) break;
      const keep = Math.min(n, length - size);
      for (let done = 0; done < keep; ) {
        const w = writeSync(fd, buffer, done, keep - done, position + size + done);
        // As writeAllAt (util/write-at.ts), the pool's twin of this loop: no progress fails, not loops.
        if (w === 0) throw new Error('the file system took no bytes');
        done += w;
      }
      size += n;
      if (size > length) break;
    }
  } finally {
    closeSync(from);
  }
  return { size };
}
`;

export const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
${JOBS_SOURCE}
parentPort.on('message', async ({ id, job }) => {
  try {
    parentPort.postMessage({ id, ...(job.kind === 'copy' ? copy(job) : await hash(job)) });
  } catch (e) {
    parentPort.postMessage({ id, error: { message: e.message, code: e.code } });
  }
});
`;
