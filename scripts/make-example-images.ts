// Generates the tiny images under examples/containers/ that the README's main
// command builds from offline. They are laid out as OBS does it:
//   examples/containers/<registry>/<path>/<name>:<tag>.ociarchive
// Each is a multi-platform (linux/amd64, linux/arm64/v8) image of a few KB
// with one layer holding /hello.txt. Output is deterministic; run with
//   npx tsx scripts/make-example-images.ts
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

const OUT = fileURLToPath(new URL('../examples/containers/', import.meta.url));
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function tarOf(files: Array<{ name: string; body: Buffer; dir?: boolean }>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise((r) => pack.on('end', r));
  for (const f of files) {
    await new Promise<void>((resolve, reject) => {
      const head = { name: f.name, mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '', mode: f.dir ? 0o755 : 0o644, type: f.dir ? ('directory' as const) : ('file' as const) };
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (f.dir) pack.entry(head, cb);
      else pack.entry(head, f.body, cb);
    });
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

const json = (v: unknown) => Buffer.from(JSON.stringify(v));

async function makeArchive(reference: string, text: string): Promise<void> {
  const layerTar = await tarOf([
    { name: 'etc/', body: Buffer.alloc(0), dir: true },
    { name: 'etc/hello-release', body: Buffer.from(`NAME="imgdesc example"\nREFERENCE="${reference}"\n`) },
    { name: 'hello.txt', body: Buffer.from(`${text}\n`) },
  ]);
  const layer = gzipSync(layerTar, { level: 9 });
  const blobs = new Map<string, Buffer>([[sha(layer), layer]]);
  const manifests: Array<Record<string, unknown>> = [];
  for (const [architecture, variant] of [['amd64', undefined], ['arm64', 'v8']] as const) {
    const config = json({
      created: '1970-01-01T00:00:00Z',
      architecture,
      ...(variant ? { variant } : {}),
      os: 'linux',
      config: { Cmd: ['/bin/cat', '/hello.txt'], Labels: { 'org.opencontainers.image.title': 'imgdesc example' } },
      rootfs: { type: 'layers', diff_ids: [sha(layerTar)] },
      history: [{ created: '1970-01-01T00:00:00Z', created_by: 'scripts/make-example-images.ts' }],
    });
    const manifest = json({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
    });
    blobs.set(sha(config), config).set(sha(manifest), manifest);
    manifests.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: sha(manifest),
      size: manifest.length,
      platform: { architecture, os: 'linux', ...(variant ? { variant } : {}) },
    });
  }
  const imageIndex = json({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests });
  blobs.set(sha(imageIndex), imageIndex);
  const layoutIndex = json({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha(imageIndex), size: imageIndex.length, annotations: { 'org.opencontainers.image.ref.name': reference } }],
  });
  const archive = await tarOf([
    { name: 'oci-layout', body: json({ imageLayoutVersion: '1.0.0' }) },
    { name: 'blobs/', body: Buffer.alloc(0), dir: true },
    { name: 'blobs/sha256/', body: Buffer.alloc(0), dir: true },
    ...[...blobs.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([d, body]) => ({ name: `blobs/sha256/${d.slice(7)}`, body })),
    { name: 'index.json', body: layoutIndex },
  ]);
  const file = join(OUT, `${reference}.ociarchive`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, archive);
  console.log(`${file}: ${archive.length} bytes`);
}

await makeArchive('registry.example.org/imgdesc/hello:1.0', 'Hello from an image imgdesc placed at build time.');
await makeArchive('registry.example.org/imgdesc/hello:1.0-config', 'Configuration bundle: placed, never loaded (fetch_only).');
await makeArchive('registry.example.org/imgdesc/toolbox:1.0', 'A debugging toolbox, selected by --profile debug.');
