// Structural validation against schema/kiwi.schema.json. The validator is made
// once per process (schema-validator.ts); ajv's errors are turned into messages
// that name the element path, the line, and what is allowed there.

import type { ErrorObject, ValidateFunction } from 'ajv';
import type { DescriptionProblem } from '../errors.js';
import { locate, type InstanceDocument } from './instance.js';
import { quoteValue } from './quote.js';
import { schemaValidator } from './schema-validator.js';

// Obtained on first use, not while the module loads: the shipped command is
// one CommonJS bundle, where a module cannot wait for an import.
let validator: ValidateFunction | undefined;

type SchemaNode = {
  properties?: Record<string, SchemaNode>;
  description?: string;
  enum?: string[];
  pattern?: string;
  $ref?: string;
};

/** Small edit distance, for "did you mean" hints on misspelt names. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** Every word of `a` (split at "_" and "-") is a word of `b`: a renamed name that grew a word. */
function wordsWithin(a: string, b: string): boolean {
  const words = new Set(b.toLowerCase().split(/[_-]/));
  const mine = a.toLowerCase().split(/[_-]/);
  return mine.length > 1 && mine.every((w) => words.has(w));
}

function closest(name: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const d = distance(name.toLowerCase(), c.toLowerCase());
    const near = d <= Math.max(2, Math.floor(name.length / 3)) || wordsWithin(name, c) || wordsWithin(c, name);
    if (near && d < bestScore) {
      bestScore = d;
      best = c;
    }
  }
  return best;
}

const quote = (v: unknown) => (typeof v === 'string' ? quoteValue(v) : JSON.stringify(v));

function members(schema: SchemaNode | undefined): { attrs: string[]; elements: string[] } {
  const keys = Object.keys(schema?.properties ?? {});
  return {
    attrs: keys.filter((k) => k.startsWith('@')).map((k) => k.slice(1)),
    elements: keys.filter((k) => !k.startsWith('@') && !k.startsWith('#')),
  };
}

function describe(error: ErrorObject, doc: InstanceDocument): DescriptionProblem | null {
  const parent = error.parentSchema as SchemaNode | undefined;
  switch (error.keyword) {
    case 'additionalProperties': {
      const extra = (error.params as { additionalProperty: string }).additionalProperty;
      const where = locate(doc, error.instancePath, extra);
      const owner = where.element && where.path.startsWith(where.element.path + '/') ? where.element.name : null;
      const { attrs, elements } = members(parent);
      if (extra === '#text') {
        const at = locate(doc, error.instancePath);
        return { message: `text content is not allowed in <${at.element?.name ?? '?'}>`, path: at.path, line: at.line };
      }
      if (extra.startsWith('@')) {
        const name = extra.slice(1);
        const hint = closest(name, attrs);
        return {
          message:
            `unknown attribute "${name}" on <${owner ?? where.element?.name}>` +
            (hint ? `; did you mean "${hint}"?` : '') +
            (attrs.length ? ` (allowed: ${attrs.join(', ')})` : ' (it takes no attributes)'),
          path: where.path,
          line: where.line,
        };
      }
      const container = locate(doc, error.instancePath).element;
      const hint = closest(extra, elements);
      return {
        message:
          `unknown element <${extra}> in <${container?.name ?? '?'}>` +
          (hint ? `; did you mean <${hint}>?` : '') +
          (elements.length ? ` (allowed: ${elements.map((e) => `<${e}>`).join(', ')})` : ' (it takes no child elements)'),
        path: where.path,
        line: where.line,
      };
    }
    case 'required': {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      const where = locate(doc, error.instancePath);
      const what = missing.startsWith('@') ? `attribute "${missing.slice(1)}"` : `element <${missing}>`;
      return { message: `<${where.element?.name}> is missing the required ${what}`, path: where.path, line: where.line };
    }
    case 'enum': {
      const where = locate(doc, error.instancePath);
      const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
      return {
        message: `${quote(error.data)} is not allowed here; allowed: ${allowed.map(quote).join(', ')}`,
        path: where.path,
        line: where.line,
      };
    }
    case 'const': {
      const where = locate(doc, error.instancePath);
      return {
        message: `${quote(error.data)} is not allowed here; expected ${quote((error.params as { allowedValue: unknown }).allowedValue)}`,
        path: where.path,
        line: where.line,
      };
    }
    case 'pattern': {
      const where = locate(doc, error.instancePath);
      const what = parent?.description ?? `a value matching ${(error.params as { pattern: string }).pattern}`;
      return { message: `${quote(error.data)} is not valid; expected ${what}`, path: where.path, line: where.line };
    }
    case 'maxItems': {
      const name = error.instancePath.split('/').pop() ?? '?';
      const list = error.data as unknown[];
      const extraItem = list[(error.params as { limit: number }).limit];
      const el = extraItem && typeof extraItem === 'object' ? doc.origin.get(extraItem) : undefined;
      const where = locate(doc, error.instancePath.split('/').slice(0, -1).join('/'));
      const limit = (error.params as { limit: number }).limit;
      return {
        message: `<${name}> may appear at most ${limit === 1 ? 'once' : `${limit} times`} in <${where.element?.name}>`,
        path: el?.path ?? where.path,
        line: el?.line ?? where.line,
      };
    }
    case 'minItems': {
      const name = error.instancePath.split('/').pop() ?? '?';
      const where = locate(doc, error.instancePath.split('/').slice(0, -1).join('/'));
      const limit = (error.params as { limit: number }).limit;
      return { message: `<${where.element?.name}> needs at least ${limit} <${name}> element${limit === 1 ? '' : 's'}`, path: where.path, line: where.line };
    }
    case 'if':
    case 'anyOf':
    case 'oneOf':
      // The branch errors that follow say what is actually wrong.
      return null;
    default: {
      const where = locate(doc, error.instancePath);
      return { message: `${parent?.description ? `${parent.description}: ` : ''}${error.message ?? 'invalid'}`, path: where.path, line: where.line };
    }
  }
}

/** Problems the schema finds in the instance, in document order, without duplicates. */
export function schemaProblems(doc: InstanceDocument): DescriptionProblem[] {
  const validate = (validator ??= schemaValidator());
  if (validate(doc.document)) return [];
  const seen = new Set<string>();
  const out: DescriptionProblem[] = [];
  for (const error of validate.errors ?? []) {
    const p = describe(error, doc);
    if (!p) continue;
    const key = `${p.path}\0${p.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out;
}
