// The appliance every end-to-end test builds: from a real test registry, a
// multi-arch OCI index (hello:1.0, for podman and for docker), a Docker
// schema 2 image (toolbox:1.0) and a configuration bundle that is only placed
// (hello:1.0-config, fetch_only); a test may add more podman images. After
// first boot: each loaded into its backend under its full reference, its
// archive deleted, the fetch_only one kept.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Booted } from './nspawn.js';
import { pushNewImage, type PushTarget } from './test-images.js';

const ARCHIVES = 'var/tmp/kiwi_containers';
const amd64 = { architecture: 'amd64' };

export const lines = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean).sort();

/** The two <containers> sections, with `extra` podman images (name, tag 1.0) besides the usual ones. */
export function applianceContainers(host: string, extra: readonly string[] = []): string {
  const more = extra.map((n) => `\n  <container name="${n}" tag="1.0"/>`).join('');
  return `
<containers source="${host}/imgdesc" backend="podman">
  <container name="hello" tag="1.0"/>
  <container name="toolbox" tag="1.0"/>${more}
  <container name="hello" tag="1.0-config" fetch_only="true"/>
</containers>
<containers source="${host}/imgdesc" backend="docker">
  <container name="hello" tag="1.0"/>
</containers>`;
}

/** Pushes the appliance's images (layouts kept in `dir`); returns how to name one of them. */
export async function pushApplianceImages(dir: string, registry: PushTarget, extra: readonly string[] = []): Promise<(nameTag: string) => string> {
  const base = { size: 64 * 1024, shared: 'base' };
  await pushNewImage(dir, registry, 'imgdesc/hello', '1.0', { seed: 'hello', platforms: [amd64, { architecture: 'arm64', variant: 'v8' }], layers: [base, { size: 4096 }] });
  await pushNewImage(dir, registry, 'imgdesc/toolbox', '1.0', { seed: 'toolbox', platforms: [amd64], layers: [base, { size: 8192 }] }, 'v2s2');
  for (const name of extra) await pushNewImage(dir, registry, `imgdesc/${name}`, '1.0', { seed: name, platforms: [amd64], layers: [base] });
  await pushNewImage(dir, registry, 'imgdesc/hello', '1.0-config', { seed: 'config', platforms: [amd64] });
  return (nameTag) => `${registry.host}/imgdesc/${nameTag}`;
}

/** What a booted appliance must show: the loads done, the images in podman and docker, only the fetch_only archive left. */
export async function assertApplianceLoaded(vm: Booted, root: string, ref: (nameTag: string) => string, extra: readonly string[] = []): Promise<void> {
  const agg = await vm.exec(['systemctl', 'show', '-p', 'ActiveState,Result', 'kiwi_containers.service']);
  assert.match(agg.stdout, /ActiveState=active/, vm.console());
  const podman = await vm.exec(['podman', 'images', '--format', '{{.Repository}}:{{.Tag}}']);
  assert.deepEqual(lines(podman.stdout), [ref('hello:1.0'), ref('toolbox:1.0'), ...extra.map((n) => ref(`${n}:1.0`))].sort(), podman.stderr);
  const docker = await vm.exec(['docker', 'images', '--format', '{{.Repository}}:{{.Tag}}']);
  assert.deepEqual(lines(docker.stdout), [ref('hello:1.0')], docker.stderr);
  assert.deepEqual(await readdir(join(root, ARCHIVES)), ['hello_1.0-config']);
}
