// Older schema versions, brought to the current one before validation, as KIWI
// does with its conversion stylesheets. Each step applies only to descriptions
// older than its `below` version, so a newer description that still uses the
// old spelling is rejected by the schema instead of silently rewritten.

import type { XmlElement } from './xml.js';

export const OLDEST_SCHEMA = '7.4';
export const CURRENT_SCHEMA = '8.5';
export const KNOWN_SCHEMAS = ['7.4', '7.5', '7.6', '8.0', '8.1', '8.2', '8.3', '8.4', '8.5'] as const;

/** Compares "major.minor" versions numerically (7.10 > 7.9). */
export function compareVersions(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am - bm || an - bn;
}

interface Step {
  /** Applies to descriptions whose schemaversion is below this. */
  below: string;
  what: string;
  apply(el: XmlElement): XmlElement;
}

function withAttrs(el: XmlElement, attrs: Record<string, string>, lines: Record<string, number>): XmlElement {
  return Object.freeze({ ...el, attrs: Object.freeze(attrs), attrLines: Object.freeze(lines) }) as XmlElement;
}

function renameAttr(el: XmlElement, from: string, to: string, map: (v: string) => string = (v) => v): XmlElement {
  if (!(from in el.attrs)) return el;
  const attrs: Record<string, string> = {};
  const lines: Record<string, number> = {};
  for (const [k, v] of Object.entries(el.attrs)) {
    const name = k === from ? to : k;
    attrs[name] = k === from ? map(v) : v;
    lines[name] = el.attrLines[k] ?? el.line;
  }
  return withAttrs(el, attrs, lines);
}

function dropAttr(el: XmlElement, name: string): XmlElement {
  if (!(name in el.attrs)) return el;
  const attrs = { ...el.attrs };
  const lines = { ...el.attrLines };
  delete attrs[name];
  delete lines[name];
  return withAttrs(el, attrs, lines);
}

const STEPS: Step[] = [
  {
    below: '7.5',
    what: 'containerconfig@additionaltags became additionalnames (":tag" entries)',
    apply: (el) =>
      el.name === 'containerconfig'
        ? renameAttr(el, 'additionaltags', 'additionalnames', (v) =>
            v
              .split(',')
              .map((t) => `:${t}`)
              .join(','),
          )
        : el,
  },
  {
    below: '7.6',
    what: 'packagemanager "dnf" became "dnf4"',
    apply: (el) =>
      el.name === 'packagemanager' && el.text.trim() === 'dnf' ? (Object.freeze({ ...el, text: 'dnf4' }) as XmlElement) : el,
  },
  {
    below: '8.1',
    what: 'repository type="rpm-dir" was dropped',
    apply: (el) => (el.name === 'repository' && el.attrs.type === 'rpm-dir' ? dropAttr(el, 'type') : el),
  },
  {
    below: '8.2',
    what: 'repository@use_for_bootstrap was dropped',
    apply: (el) => (el.name === 'repository' ? dropAttr(el, 'use_for_bootstrap') : el),
  },
  {
    below: '8.3',
    what: 'type@btrfs_root_is_snapshot became btrfs_root_is_snapper_snapshot',
    apply: (el) => (el.name === 'type' ? renameAttr(el, 'btrfs_root_is_snapshot', 'btrfs_root_is_snapper_snapshot') : el),
  },
  {
    below: '8.4',
    what: 'bootloader@console became output_console and input_console',
    apply: (el) => {
      if (el.name !== 'bootloader' || !('console' in el.attrs)) return el;
      const value = el.attrs.console!;
      const line = el.attrLines.console ?? el.line;
      const [output, input] = value.includes(' ') ? [value.slice(0, value.indexOf(' ')), value.slice(value.indexOf(' ') + 1)] : [value, undefined];
      const base = dropAttr(el, 'console');
      const attrs: Record<string, string> = { ...base.attrs, output_console: output! };
      const lines: Record<string, number> = { ...base.attrLines, output_console: line };
      if (input !== undefined) {
        attrs.input_console = input;
        lines.input_console = line;
      }
      return withAttrs(base, attrs, lines);
    },
  },
  {
    below: '8.5',
    what: 'type@vga was dropped',
    apply: (el) => (el.name === 'type' ? dropAttr(el, 'vga') : el),
  },
];

function mapTree(el: XmlElement, fn: (el: XmlElement) => XmlElement): XmlElement {
  const children = el.children.map((c) => mapTree(c, fn));
  const changed = children.some((c, i) => c !== el.children[i]);
  const self = changed ? (Object.freeze({ ...el, children: Object.freeze(children) }) as XmlElement) : el;
  return fn(self);
}

/** Brings a description of an older, known schema version to the current one. */
export function upgrade(root: XmlElement, version: string): XmlElement {
  let tree = root;
  for (const step of STEPS) {
    if (compareVersions(version, step.below) < 0) tree = mapTree(tree, step.apply);
  }
  return tree;
}
