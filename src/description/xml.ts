// XML text -> a small element tree that remembers where everything came from.
// fast-xml-parser does the tokenising; this module adds what it lacks for our
// error messages: element paths (/image/containers[2]/container[1]) and lines.

import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { DescriptionProblem } from '../errors.js';

export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  /** 1-based line of each attribute (falls back to the element's line). */
  readonly attrLines: Readonly<Record<string, number>>;
  readonly children: readonly XmlElement[];
  /** Concatenated character data directly inside this element (untrimmed). */
  readonly text: string;
  readonly line: number;
  /** Element path, e.g. /image/containers[2]/container[1]. */
  readonly path: string;
}

/** Deepest element nesting accepted. */
export const MAX_DEPTH = 64;

export type ParseResult = { ok: true; root: XmlElement } | { ok: false; problems: DescriptionProblem[] };

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  captureMetaData: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: true,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  // KIWI descriptions nest about 6 deep; refuse absurd depths before they cost stack.
  maxNestedTags: MAX_DEPTH,
});
const META = XMLParser.getMetaDataSymbol() as unknown as symbol;

/** Offsets of line starts, for turning a character offset into a line number. */
function lineIndex(text: string): (offset: number) => number {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

/**
 * Finds a DOCTYPE in the prolog. Descriptions never need one, and refusing it
 * closes entity-expansion bombs and external entities before any parser sees them.
 */
function findDoctype(text: string): number {
  let i = 0;
  for (;;) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (text.startsWith('\uFEFF', i)) i++;
    else if (text.startsWith('<?', i)) {
      const end = text.indexOf('?>', i + 2);
      if (end === -1) return -1;
      i = end + 2;
    } else if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4);
      if (end === -1) return -1;
      i = end + 3;
    } else if (/^<!doctype/i.test(text.slice(i, i + 9))) {
      return i;
    } else {
      // Anything else ends the prolog; a DOCTYPE later on is not well-formed
      // XML, but refuse it explicitly rather than trust the parser with it.
      const later = text.search(/<!DOCTYPE/i);
      return later;
    }
  }
}

type RawNode = Record<string, unknown> & { ':@'?: Record<string, string> };

/** Locates `name=` inside the start tag that begins at `start`, for attribute lines. */
function attributeOffsets(text: string, start: number, names: string[]): Record<string, number> {
  const end = text.indexOf('>', start);
  const tag = text.slice(start, end === -1 ? undefined : end);
  const found: Record<string, number> = {};
  for (const name of names) {
    const re = new RegExp(`\\s${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*=`);
    const m = re.exec(tag);
    if (m) found[name] = start + m.index + 1;
  }
  return found;
}

export function parseXml(text: string): ParseResult {
  const toLine = lineIndex(text);
  const doctype = findDoctype(text);
  if (doctype !== -1) {
    return {
      ok: false,
      problems: [
        {
          message:
            'a <!DOCTYPE> declaration is not allowed in a description (it could define entities); remove it',
          path: '',
          line: toLine(doctype),
        },
      ],
    };
  }
  const valid = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (valid !== true) {
    const { line, col, msg } = valid.err;
    return {
      ok: false,
      problems: [{ message: `not well-formed XML: ${msg} (line ${line}, column ${col})`, path: '', line }],
    };
  }
  let raw: RawNode[];
  try {
    raw = parser.parse(text) as RawNode[];
  } catch (err) {
    const message = /nested tags/i.test((err as Error).message)
      ? `elements are nested more than ${MAX_DEPTH} levels deep; descriptions never need that`
      : `cannot parse XML: ${(err as Error).message}`;
    return { ok: false, problems: [{ message, path: '', line: null }] };
  }

  const build = (node: RawNode, name: string, parentPath: string, index: number): XmlElement => {
    const meta = (node as Record<symbol, { startIndex?: number } | undefined>)[META];
    const start = meta?.startIndex ?? 0;
    const line = toLine(start);
    const attrs: Record<string, string> = { ...(node[':@'] ?? {}) };
    const offsets = attributeOffsets(text, start, Object.keys(attrs));
    const attrLines: Record<string, number> = {};
    for (const key of Object.keys(attrs)) attrLines[key] = offsets[key] !== undefined ? toLine(offsets[key]) : line;
    const path = `${parentPath}/${name}${index > 0 ? `[${index}]` : ''}`;
    const children: XmlElement[] = [];
    const counts = new Map<string, number>();
    let body = '';
    for (const child of (node[name] as RawNode[]) ?? []) {
      const childName = Object.keys(child).find((k) => k !== ':@');
      if (childName === undefined) continue;
      if (childName === '#text') {
        body += String(child['#text']);
        continue;
      }
      if (childName.startsWith('#') || childName.startsWith('?')) continue;
      const n = (counts.get(childName) ?? 0) + 1;
      counts.set(childName, n);
      children.push(build(child, childName, path, n));
    }
    return Object.freeze({
      name,
      attrs: Object.freeze(attrs),
      attrLines: Object.freeze(attrLines),
      children: Object.freeze(children),
      text: body,
      line,
      path,
    });
  };

  const roots = raw.filter((n) => {
    const key = Object.keys(n).find((k) => k !== ':@');
    return key !== undefined && !key.startsWith('#') && !key.startsWith('?');
  });
  if (roots.length !== 1) {
    return { ok: false, problems: [{ message: 'the document must have exactly one root element', path: '', line: 1 }] };
  }
  const top = roots[0]!;
  const rootName = Object.keys(top).find((k) => k !== ':@')!;
  // The root path carries no index: /image, not /image[1].
  return { ok: true, root: build(top, rootName, '', 0) };
}
