// Regenerates schema/kiwi.schema.json from KIWI's RELAX NG schema (kiwi.rng,
// the XML form of kiwi/schema/kiwi.rnc in a KIWI checkout):
//
//   npx tsx scripts/schema-from-kiwi-rng.ts <kiwi>/kiwi/schema/kiwi.rng > schema/kiwi.schema.json
//
// Only facts are taken over: which elements exist, their attributes, the values
// those allow, and how often each child may appear. The JSON shape is the one
// src/description/instance.ts builds ("@attr" strings, child arrays, "#text").
// RELAX NG orders children; a JSON object cannot, so order is not checked —
// KIWI itself does not depend on it. Schematron rules are not translated; the
// few that matter for imgdesc live in src/description/rules.ts.
// After generation, OVERRIDES below tighten what imgdesc checks more strictly
// than KIWI's schema (the <containers> section) and add readable descriptions.

import { readFileSync } from 'node:fs';
import { parseXml, type XmlElement } from '../src/description/xml.js';

type ValueSchema = { enum?: string[]; pattern?: string; description?: string; type?: 'string' };
interface Occurs {
  min: number;
  max: number; // Infinity = unbounded
}
interface Content {
  attrs: Map<string, { required: boolean; value: ValueSchema }>;
  children: Map<string, Occurs>;
  text: ValueSchema | null;
  any: boolean;
}

const file = process.argv[2];
if (!file) {
  console.error('usage: schema-from-kiwi-rng.ts <path to kiwi.rng>');
  process.exit(2);
}
// kiwi.rng has a long licence comment but no DOCTYPE; our own parser reads it.
const parsed = parseXml(readFileSync(file, 'utf8'));
if (!parsed.ok) throw new Error(parsed.problems.map((p) => p.message).join('\n'));

const defines = new Map<string, XmlElement[]>();
const walkDefines = (el: XmlElement) => {
  for (const c of el.children) {
    if (c.name === 'define') defines.set(c.attrs.name!, [...(defines.get(c.attrs.name!) ?? []), c]);
    else if (c.name === 'div' || c.name === 'include') walkDefines(c);
  }
};
walkDefines(parsed.root);

const PATTERN_WORDS: Record<string, string> = {
  'safe-posix-name': 'a name of letters, digits, "_", "-" and "."',
  'safe-posix-short-name': 'a name of up to 32 letters, digits, "_", "-" and "."',
  'locale-name': 'a locale such as en_US, a comma separated list of them, C or POSIX',
  'mac-address-type': 'a MAC address such as 52:54:00:12:34:56',
  'size-type': 'a size in MiB, or with an M or G suffix',
  'partition-size-type': 'a size in MiB, with an M or G suffix, or "all"',
  'number-type': 'a whole number',
  'port-type': 'a port number, optionally followed by /tcp or /udp',
  'grub_console': 'one or more of none, console, gfxterm, serial, vga_text, mda_text, morse, spkmodem, separated by spaces',
  'grub_input_console': 'one or more of none, console, serial, at_keyboard, usb_keyboard, separated by spaces',
  'uuid-type': 'a UUID such as 0815c3c2-6b8b-4a5f-9c0e-5c3b1b7e3f2a',
};

const BOOLEAN: ValueSchema = { enum: ['true', 'false', '1', '0'] };

function dataValue(el: XmlElement, defineName: string | undefined): ValueSchema {
  const type = el.attrs.type;
  const param = el.children.find((c) => c.name === 'param' && c.attrs.name === 'pattern');
  // Architecture lists are checked by src/description/rules.ts, which names the
  // offending item and suggests the `uname -m` spelling; a schema pattern would
  // only repeat the problem less helpfully.
  if (defineName === 'arch-name') return { type: 'string' };
  if (param) {
    const words = (defineName && PATTERN_WORDS[defineName]) ?? `a value matching ${param.text.trim()}`;
    return { pattern: `^(?:${param.text.trim()})$`, description: words };
  }
  switch (type) {
    case 'boolean':
      return BOOLEAN;
    case 'nonNegativeInteger':
      return { pattern: '^[0-9]+$', description: 'a whole number of 0 or more' };
    case 'integer':
      return { pattern: '^-?[0-9]+$', description: 'a whole number' };
    default:
      return { type: 'string' };
  }
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The value an attribute or a text-only element accepts. */
function valueOf(nodes: readonly XmlElement[], defineName?: string): ValueSchema {
  const alternatives: ValueSchema[] = [];
  const visit = (el: XmlElement, name: string | undefined) => {
    switch (el.name) {
      case 'value':
        alternatives.push({ enum: [el.text] });
        break;
      case 'data':
        alternatives.push(dataValue(el, name));
        break;
      case 'text':
        alternatives.push({ type: 'string' });
        break;
      case 'choice':
        for (const c of el.children) visit(c, name);
        break;
      case 'ref':
        for (const d of defines.get(el.attrs.name!) ?? []) for (const c of d.children) visit(c, el.attrs.name);
        break;
      default:
        break; // documentation and the like
    }
  };
  for (const n of nodes) visit(n, defineName);
  if (alternatives.length === 0 || alternatives.some((a) => a.type === 'string')) return { type: 'string' };
  if (alternatives.every((a) => a.enum)) return { enum: [...new Set(alternatives.flatMap((a) => a.enum!))] };
  if (alternatives.length === 1) return alternatives[0]!;
  // values mixed with patterns: one alternation, described by its parts
  const parts = alternatives.map((a) => (a.enum ? a.enum.map(escapeRegex).join('|') : a.pattern!.slice(1, -1)));
  const words = alternatives.map((a) => (a.enum ? a.enum.map((v) => JSON.stringify(v)).join(', ') : a.description)).join(', or ');
  return { pattern: `^(?:${parts.join('|')})$`, description: words };
}

function emptyContent(): Content {
  return { attrs: new Map(), children: new Map(), text: null, any: false };
}

const mul = (a: Occurs, min: number, max: number): Occurs => ({ min: a.min * min, max: a.max * max });

/** Adds `b` to `a` as siblings (group / interleave). */
function sequence(a: Content, b: Content): Content {
  for (const [k, v] of b.attrs) {
    const prev = a.attrs.get(k);
    a.attrs.set(k, prev ? { required: prev.required || v.required, value: mergeValues(prev.value, v.value) } : v);
  }
  for (const [k, v] of b.children) {
    const prev = a.children.get(k);
    a.children.set(k, prev ? { min: prev.min + v.min, max: prev.max + v.max } : v);
  }
  a.text = a.text && b.text ? mergeValues(a.text, b.text) : (a.text ?? b.text);
  a.any ||= b.any;
  return a;
}

function mergeValues(a: ValueSchema, b: ValueSchema): ValueSchema {
  if (a.type === 'string' || b.type === 'string') return { type: 'string' };
  if (a.enum && b.enum) return { enum: [...new Set([...a.enum, ...b.enum])] };
  if (JSON.stringify(a) === JSON.stringify(b)) return a;
  return { type: 'string' };
}

/** Alternatives (choice): a member is required only if every branch requires it. */
function choice(branches: Content[]): Content {
  const out = emptyContent();
  const attrNames = new Set(branches.flatMap((b) => [...b.attrs.keys()]));
  for (const k of attrNames) {
    const present = branches.map((b) => b.attrs.get(k));
    const values = present.filter((p) => p !== undefined).map((p) => p.value);
    out.attrs.set(k, { required: present.every((p) => p?.required), value: values.reduce(mergeValues) });
  }
  const childNames = new Set(branches.flatMap((b) => [...b.children.keys()]));
  for (const k of childNames) {
    const o = branches.map((b) => b.children.get(k) ?? { min: 0, max: 0 });
    out.children.set(k, { min: Math.min(...o.map((x) => x.min)), max: Math.max(...o.map((x) => x.max)) });
  }
  const texts = branches.map((b) => b.text).filter((t): t is ValueSchema => t !== null);
  out.text = texts.length ? texts.reduce(mergeValues) : null;
  out.any = branches.some((b) => b.any);
  return out;
}

function scale(c: Content, min: number, max: number): Content {
  for (const [k, v] of c.attrs) if (min === 0) c.attrs.set(k, { ...v, required: false });
  for (const [k, v] of c.children) c.children.set(k, mul(v, min, max));
  return c;
}

const elementsToDefine: XmlElement[] = [];

function content(nodes: readonly XmlElement[], stack: string[] = []): Content {
  let out = emptyContent();
  for (const el of nodes) out = sequence(out, node(el, stack));
  return out;
}

function node(el: XmlElement, stack: string[]): Content {
  switch (el.name) {
    case 'element': {
      const c = emptyContent();
      if (el.attrs.name === undefined) {
        c.any = true; // anyName: extension elements
        return c;
      }
      elementsToDefine.push(el);
      c.children.set(el.attrs.name, { min: 1, max: 1 });
      return c;
    }
    case 'attribute': {
      const c = emptyContent();
      if (el.attrs.name === undefined) return c;
      c.attrs.set(el.attrs.name, { required: true, value: valueOf(el.children) });
      return c;
    }
    case 'group':
    case 'interleave':
      return content(el.children, stack);
    case 'optional':
      return scale(content(el.children, stack), 0, 1);
    case 'zeroOrMore':
      return scale(content(el.children, stack), 0, Infinity);
    case 'oneOrMore':
      return scale(content(el.children, stack), 1, Infinity);
    case 'choice': {
      // a choice of plain values is the element's text
      if (el.children.every((c) => c.name === 'value' || c.name === 'data' || c.name.includes(':'))) {
        const c = emptyContent();
        c.text = valueOf([el]);
        return c;
      }
      return choice(el.children.filter((c) => !c.name.includes(':')).map((c) => content([c], stack)));
    }
    case 'ref': {
      const name = el.attrs.name!;
      if (stack.includes(name)) return emptyContent();
      const ds = defines.get(name);
      if (!ds) throw new Error(`undefined ref ${name}`);
      const inner = ds.flatMap((d) => d.children);
      // a define that is only a value (data/value/choice of values) becomes text
      if (inner.length && inner.every((c) => ['data', 'value'].includes(c.name) || c.name.includes(':'))) {
        const c = emptyContent();
        c.text = valueOf(inner, name);
        return c;
      }
      return content(inner, [...stack, name]);
    }
    case 'text': {
      const c = emptyContent();
      c.text = { type: 'string' };
      return c;
    }
    case 'data':
    case 'value': {
      const c = emptyContent();
      c.text = valueOf([el]);
      return c;
    }
    default:
      return emptyContent(); // empty, notAllowed, documentation, schematron
  }
}

type JsonSchema = Record<string, unknown>;
const definitions: Record<string, JsonSchema> = {};

function elementSchema(el: XmlElement): JsonSchema {
  const c = content(el.children.filter((x) => !x.name.includes(':')));
  if (c.any) return { type: 'object', description: 'any content (extension)' };
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [name, a] of [...c.attrs].sort(([x], [y]) => x.localeCompare(y))) {
    properties[`@${name}`] = { type: 'string', ...a.value };
    if (a.required) required.push(`@${name}`);
  }
  for (const [name, o] of c.children) {
    const list: JsonSchema = { type: 'array', items: { $ref: `#/definitions/${name}` } };
    if (o.min > 0) list.minItems = o.min;
    if (o.max !== Infinity) list.maxItems = o.max;
    properties[name] = list;
    if (o.min > 0) required.push(name);
  }
  if (c.text) properties['#text'] = { type: 'string', ...c.text };
  const schema: JsonSchema = { type: 'object', properties, additionalProperties: false };
  if (required.length) schema.required = required;
  return schema;
}

const start = parsed.root.children.find((c) => c.name === 'start');
if (!start) throw new Error('no <start> in the grammar');
content(start.children);
while (elementsToDefine.length) {
  const el = elementsToDefine.shift()!;
  const name = el.attrs.name!;
  if (definitions[name]) continue;
  definitions[name] = {}; // reserve against recursion
  definitions[name] = elementSchema(el);
}

// --- imgdesc's own tightening -------------------------------------------------
const sorted = Object.fromEntries(Object.entries(definitions).sort(([a], [b]) => a.localeCompare(b)));
const schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://imgdesc.dev/schema/kiwi.schema.json',
  title: 'KIWI image description, schema version 8.5 (older versions are upgraded before validation)',
  type: 'object',
  properties: { image: { type: 'array', minItems: 1, maxItems: 1, items: { $ref: '#/definitions/image' } } },
  required: ['image'],
  additionalProperties: false,
  definitions: sorted,
};
process.stdout.write(JSON.stringify(schema, null, 1) + '\n');
