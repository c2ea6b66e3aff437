// The JSON shape that schema/kiwi.schema.json validates, built from the element
// tree. One element becomes one object:
//   attributes        -> "@name": "value"        (always strings)
//   child elements    -> "name": [ {...}, ... ]  (always arrays, document order per name)
//   character data    -> "#text": "trimmed"      (only when non-blank)
// The document itself is { "<root name>": [ rootObject ] }.
// A side table maps every object back to its element, so schema errors can be
// reported with the element path and line the author sees.

import type { XmlElement } from './xml.js';

export type Instance = { [key: string]: string | Instance[] };

export interface InstanceDocument {
  readonly document: Instance;
  /** Object -> the element it was built from. */
  readonly origin: WeakMap<object, XmlElement>;
}

export function toInstance(root: XmlElement): InstanceDocument {
  const origin = new WeakMap<object, XmlElement>();
  const convert = (el: XmlElement): Instance => {
    const obj: Instance = {};
    for (const [k, v] of Object.entries(el.attrs)) {
      // namespace declarations (xmlns, xmlns:xsi) are not attributes of the element
      if (k === 'xmlns' || k.startsWith('xmlns:')) continue;
      obj[`@${k}`] = v;
    }
    for (const child of el.children) {
      const list = (obj[child.name] ??= []) as Instance[];
      list.push(convert(child));
    }
    const text = el.text.trim();
    if (text !== '') obj['#text'] = text;
    origin.set(obj, el);
    return obj;
  };
  const document: Instance = { [root.name]: [convert(root)] };
  return { document, origin };
}

export interface Located {
  /** Element path of the element or attribute, e.g. /image/containers[1]/@source. */
  path: string;
  line: number | null;
  /** The nearest element on the way (for context in messages). */
  element: XmlElement | null;
}

/**
 * Resolves a JSON pointer into the instance (as ajv reports it) to the element
 * path and line in the description. `member` names a property the error is
 * about (an unknown or missing attribute/element) when the pointer stops at its parent.
 */
export function locate(doc: InstanceDocument, pointer: string, member?: string): Located {
  const parts = pointer === '' ? [] : pointer.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let node: unknown = doc.document;
  let element: XmlElement | null = null;
  let attr: string | null = null;
  let text = false;
  for (const part of parts) {
    if (node === null || typeof node !== 'object') break;
    if (part.startsWith('@')) {
      attr = part.slice(1);
      break;
    }
    if (part === '#text') {
      text = true;
      break;
    }
    node = (node as Record<string, unknown>)[part];
    const el = node && typeof node === 'object' ? doc.origin.get(node) : undefined;
    if (el) element = el;
  }
  if (!element) return { path: '', line: null, element: null };
  if (attr === null && !text && member !== undefined) {
    if (member.startsWith('@')) attr = member.slice(1);
    else {
      const child = element.children.find((c) => c.name === member);
      if (child) return { path: child.path, line: child.line, element: child };
      return { path: `${element.path}/${member}`, line: element.line, element };
    }
  }
  if (attr !== null) {
    return { path: `${element.path}/@${attr}`, line: element.attrLines[attr] ?? element.line, element };
  }
  if (text) return { path: `${element.path}/text()`, line: element.line, element };
  return { path: element.path, line: element.line, element };
}
