// The WAN benchmark's link must really be one: unshaped, its figures would be
// LAN figures under a WAN label. Checked through whichever shaping this
// kernel allows (netem, or bench/delay-line.py).
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { test } from 'node:test';
import { startWanRegistry } from '../../bench/wan.js';
import { pushNewImage } from '../helpers/test-images.js';
import { tempDir } from '../helpers/tmp.js';

const connectMs = (host: string, port: number) =>
  new Promise<number>((resolve, reject) => {
    const t0 = performance.now();
    const s = connect(port, host, () => {
      s.destroy();
      resolve(performance.now() - t0);
    });
    s.once('error', reject);
  });

function getSeconds(url: string): Promise<{ seconds: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    request(url, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ seconds: (performance.now() - t0) / 1000, bytes }));
      res.on('error', reject);
    })
      .once('error', reject)
      .end();
  });
}

test('the WAN registry is a round trip of 2 × the delay away and no faster than its rate', async (t) => {
  const wan = await startWanRegistry({ delayMs: 20, rate: '40mbit' });
  t.after(() => wan.stop());
  const dir = await tempDir(t);
  const size = 2_000_000;
  const pushed = await pushNewImage(dir, wan, 'wan/probe', '1.0', {
    seed: 'wan-probe',
    platforms: [{ architecture: 'amd64' }],
    layers: [{ size }],
  });
  const layer = pushed.manifests[0]!.layers[0]!;
  const [host, port] = wan.host.split(':') as [string, string];
  const blobUrl = `http://${wan.host}/v2/wan/probe/blobs/${layer.digest}`;

  // Unshaped, as the push was: well under the emulated round trip.
  assert.ok((await connectMs(host, Number(port))) < 20, 'unshaped before shape()');

  await wan.shape();
  // A TCP handshake is one round trip: 40 ms.
  const handshake = await connectMs(host, Number(port));
  assert.ok(handshake >= 39, `connect took ${handshake.toFixed(1)} ms`);
  // 2 MB at 40 Mbit/s is 0.4 s on the wire, plus the handshake and request round trips.
  const { seconds, bytes } = await getSeconds(blobUrl);
  assert.equal(bytes, layer.size);
  assert.ok(seconds >= 0.4 + 0.08, `${bytes} bytes in ${seconds.toFixed(3)} s`);
  t.diagnostic(`${method(wan.method)}: connect ${handshake.toFixed(1)} ms, ${(bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(2)} s`);
});

const method = (m: string) => m.replace(/^no netem in this kernel: /, '');
