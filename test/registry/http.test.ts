import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { Agent, request } from '../../src/registry/http.js';

const require = createRequire(import.meta.url);

describe('registry/http', () => {
  // imgdesc loads these two modules of undici directly, to skip the rest of
  // its index; an undici that moves them must fail here, not in a build.
  test('Agent is the class undici exports, and request is the method undici puts on every dispatcher', () => {
    const undici = require('undici') as typeof import('undici');
    assert.equal(Agent, undici.Agent);
    assert.equal(require('undici/lib/api/api-request.js'), (undici.Dispatcher.prototype as unknown as { request: unknown }).request);
  });

  test('request sends method, path with query, headers and body to the URL, through the given dispatcher', async (t) => {
    const seen: Array<{ method?: string; url?: string; header?: string; body: string }> = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, header: req.headers['x-test'] as string, body });
        res.writeHead(201, { 'content-type': 'text/plain' }).end('made');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => new Promise<void>((r) => server.close(() => r())));
    const agent = new Agent();
    t.after(() => agent.close());
    const { port } = server.address() as AddressInfo;
    const res = await request(new URL(`http://127.0.0.1:${port}/v2/token?scope=a%20b`), {
      method: 'POST',
      headers: { 'x-test': 'yes' },
      body: 'grant=1',
      dispatcher: agent,
      signal: new AbortController().signal,
    });
    assert.equal(res.statusCode, 201);
    assert.equal(await res.body.text(), 'made');
    assert.deepEqual(seen, [{ method: 'POST', url: '/v2/token?scope=a%20b', header: 'yes', body: 'grant=1' }]);
  });
});
