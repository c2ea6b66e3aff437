// Finds where each file lives inside an uncompressed tar, by reading only the
// headers, so that an archive's blobs can be streamed with ranged reads
// instead of extracting the archive first.

import { open } from 'node:fs/promises';
import { posix } from 'node:path';

export interface TarEntry {
  /** Offset of the file's first data byte. */
  readonly offset: number;
  readonly size: number;
}

function field(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString('utf8');
}

function numeric(block: Buffer, start: number, length: number): number {
  if (block[start]! & 0x80) {
    // GNU base-256 for sizes of 8 GiB and more.
    let n = 0;
    for (let i = start + 1; i < start + length; i++) n = n * 256 + block[i]!;
    return n;
  }
  const text = field(block, start, length).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function paxPath(data: Buffer): string | undefined {
  let pos = 0;
  let found: string | undefined;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) break;
    const len = parseInt(data.subarray(pos, space).toString('ascii'), 10);
    if (!len) break;
    const record = data.subarray(space + 1, pos + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === 'path') found = record.slice(eq + 1);
    pos += len;
  }
  return found;
}

const normalise = (name: string) => name.replace(/^(\.\/)+/, '').replace(/^\/+/, '');

interface Link {
  readonly name: string;
  readonly target: string;
  readonly hard: boolean;
}

/**
 * Links to regular files of the tar become entries of their own (docker save
 * links a layer that two images share: `<id>/layer.tar -> ../<other>/layer.tar`).
 * A link to anything else, or out of the tar, is left out.
 */
function resolveLinks(entries: Map<string, TarEntry>, links: readonly Link[]): void {
  for (let pass = 0; pass < 8; pass++) {
    let added = false;
    for (const l of links) {
      if (entries.has(l.name)) continue;
      const target = l.hard ? normalise(l.target) : posix.normalize(posix.join(posix.dirname(l.name), l.target));
      const e = entries.get(target);
      if (e && !target.startsWith('../')) {
        entries.set(l.name, e);
        added = true;
      }
    }
    if (!added) return;
  }
}

/** Regular files of the tar (and links to them), by normalised name. Throws on a malformed header. */
export async function indexTar(file: string, maxEntries = 100_000): Promise<Map<string, TarEntry>> {
  const fh = await open(file, 'r');
  try {
    const { size: fileSize } = await fh.stat();
    const entries = new Map<string, TarEntry>();
    const block = Buffer.alloc(512);
    let pos = 0;
    let longName: string | undefined;
    const links: Link[] = [];
    while (pos + 512 <= fileSize) {
      const { bytesRead } = await fh.read(block, 0, 512, pos);
      if (bytesRead < 512) break;
      if (block.every((b) => b === 0)) break;
      const checksum = numeric(block, 148, 8);
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
      if (sum !== checksum) throw new Error(`not a tar file, or corrupt at offset ${pos} (header checksum mismatch)`);
      const size = numeric(block, 124, 12);
      const type = String.fromCharCode(block[156]! || 48);
      const data = pos + 512;
      if (data + size > fileSize) throw new Error(`truncated tar: entry at offset ${pos} needs ${size} bytes, file ends first`);
      if (type === 'x' || type === 'L') {
        const buf = Buffer.alloc(size);
        await fh.read(buf, 0, size, data);
        longName = type === 'x' ? paxPath(buf) : buf.toString('utf8').replace(/\0.*$/s, '');
      } else {
        const prefix = block.subarray(257, 263).toString('ascii').startsWith('ustar') ? field(block, 345, 155) : '';
        const name = longName ?? (prefix ? `${prefix}/${field(block, 0, 100)}` : field(block, 0, 100));
        longName = undefined;
        if (type === '0' || type === '7') {
          entries.set(normalise(name), { offset: data, size });
          if (entries.size > maxEntries) throw new Error(`tar has more than ${maxEntries} files`);
        } else if (type === '1' || type === '2') {
          links.push({ name: normalise(name), target: field(block, 157, 100), hard: type === '1' });
        }
      }
      pos = data + Math.ceil(size / 512) * 512;
    }
    resolveLinks(entries, links);
    return entries;
  } finally {
    await fh.close();
  }
}
