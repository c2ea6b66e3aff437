// systemd-escape --path, as systemd.unit(5) defines it for instance names.

/** Escapes an absolute path into a unit name instance string. */
export function escapePath(path: string): string {
  const simplified = path.replace(/\/+/g, '/').replace(/^\/|\/$/g, '');
  if (simplified === '') return '-';
  let out = '';
  const bytes = Buffer.from(simplified, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    const c = String.fromCharCode(b);
    if (c === '/') out += '-';
    else if (/[A-Za-z0-9:_]/.test(c) || (c === '.' && i > 0)) out += c;
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** Longest unit file name systemd accepts. */
export const MAX_UNIT_NAME = 255;
