// Element tree (already validated) -> the typed model.

import { type Backend, type ContainerEntry, type ContainersSection, deepFreeze, type Description, type Profile } from './model.js';
import { splitList } from './names.js';
import { normaliseRepoPath } from './rules.js';
import type { XmlElement } from './xml.js';

const isTrue = (v: string | undefined) => v === 'true' || v === '1';
const list = (v: string | undefined) => (v === undefined ? null : splitList(v));
const childrenNamed = (el: XmlElement, name: string) => el.children.filter((c) => c.name === name);

export function buildModel(root: XmlElement, file: string): Description {
  const profiles: Profile[] = [];
  for (const section of childrenNamed(root, 'profiles')) {
    for (const p of childrenNamed(section, 'profile')) {
      profiles.push({
        name: p.attrs.name ?? '',
        description: p.attrs.description ?? '',
        import: isTrue(p.attrs.import),
        arch: list(p.attrs.arch),
        requires: childrenNamed(p, 'requires').map((r) => ({
          profile: r.attrs.profile ?? '',
          arch: list(r.attrs.arch),
          path: r.path,
          line: r.line,
        })),
        path: p.path,
        line: p.line,
      });
    }
  }
  const containers: ContainersSection[] = childrenNamed(root, 'containers').map((s) => ({
    source: s.attrs.source ?? '',
    backend: (s.attrs.backend ?? 'podman') as Backend,
    profiles: list(s.attrs.profiles),
    arch: list(s.attrs.arch),
    path: s.path,
    line: s.line,
    containers: childrenNamed(s, 'container').map(
      (c): ContainerEntry => ({
        name: c.attrs.name ?? '',
        repoPath: normaliseRepoPath(c.attrs.path ?? ''),
        tag: c.attrs.tag ?? null,
        fetchOnly: isTrue(c.attrs.fetch_only),
        arch: list(c.attrs.arch),
        path: c.path,
        line: c.line,
      }),
    ),
  }));
  return deepFreeze({
    file,
    schemaVersion: root.attrs.schemaversion ?? '',
    image: {
      name: root.attrs.name ?? '',
      displayName: root.attrs.displayname ?? null,
      id: root.attrs.id ?? null,
    },
    profiles,
    containers,
  });
}
