// JSON read the way containers/image reads policy files and signature
// payloads: a key written twice is an error, not "the last one wins". A
// signed payload with two "docker-manifest-digest" keys must not mean one
// thing to us and another to the tool that signed it, and a policy file with
// two "default" lists is a mistake worth naming. JSON.parse cannot see
// duplicates, so this walks the text itself; the values of strings and
// numbers are still decoded by JSON.parse, which owns their escape rules.

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
/** An object as read: a Map keeps keys such as "__proto__" as plain data. */
export type JsonObject = Map<string, JsonValue>;

export class StrictJsonError extends Error {
  constructor(
    message: string,
    /** Path to the place, as `a.b[2]["c d"]`; "" for the document. */
    readonly path: string,
  ) {
    super(message);
  }
}

const WHITESPACE = /[ \t\n\r]*/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const LITERAL = /true|false|null/y;
/** Nesting beyond this is not a policy file; refusing keeps the recursion bounded. */
const MAX_DEPTH = 64;

/** `path` extended by an object key, in the form messages use (`a.b`, `a["c/d"]`). */
export function keyPath(path: string, key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return path === '' ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

class Reader {
  private pos = 0;
  constructor(private readonly text: string) {}

  document(): JsonValue {
    const value = this.value('', 0);
    this.skip();
    if (this.pos !== this.text.length) throw this.error('unexpected data after the JSON value', '');
    return value;
  }

  private error(what: string, path: string): StrictJsonError {
    const before = this.text.slice(0, this.pos);
    const line = before.split('\n').length;
    const column = this.pos - before.lastIndexOf('\n');
    return new StrictJsonError(`${what} (line ${line}, column ${column})`, path);
  }

  private skip(): void {
    WHITESPACE.lastIndex = this.pos;
    WHITESPACE.exec(this.text);
    this.pos = WHITESPACE.lastIndex;
  }

  private match(re: RegExp): string | null {
    re.lastIndex = this.pos;
    const m = re.exec(this.text);
    if (!m) return null;
    this.pos = re.lastIndex;
    return m[0];
  }

  private value(path: string, depth: number): JsonValue {
    if (depth > MAX_DEPTH) throw this.error(`nested deeper than ${MAX_DEPTH} levels`, path);
    this.skip();
    const c = this.text[this.pos];
    if (c === '{') return this.object(path, depth);
    if (c === '[') return this.array(path, depth);
    const token = c === '"' ? this.match(STRING) : (this.match(NUMBER) ?? this.match(LITERAL));
    if (token === null) throw this.error(c === undefined ? 'unexpected end of the JSON text' : `unexpected character ${JSON.stringify(c)}`, path);
    return JSON.parse(token) as JsonValue;
  }

  private object(path: string, depth: number): JsonObject {
    const out: JsonObject = new Map();
    this.pos++;
    this.skip();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skip();
      const raw = this.match(STRING);
      if (raw === null) throw this.error('expected a key string', path);
      const key = JSON.parse(raw) as string;
      if (out.has(key)) throw this.error(`key ${JSON.stringify(key)} appears twice`, path);
      this.skip();
      if (this.text[this.pos] !== ':') throw this.error('expected ":"', keyPath(path, key));
      this.pos++;
      out.set(key, this.value(keyPath(path, key), depth + 1));
      if (this.separator('}', path)) return out;
    }
  }

  private array(path: string, depth: number): JsonValue[] {
    const out: JsonValue[] = [];
    this.pos++;
    this.skip();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(`${path}[${out.length}]`, depth + 1));
      if (this.separator(']', path)) return out;
    }
  }

  /** After a member: true at the closing bracket, false after a comma. */
  private separator(close: string, path: string): boolean {
    this.skip();
    const c = this.text[this.pos];
    this.pos++;
    if (c === close) return true;
    if (c === ',') return false;
    this.pos--;
    throw this.error(`expected "," or "${close}"`, path);
  }
}

/** Parses `text` as one JSON value; throws StrictJsonError on bad syntax or a duplicate key. */
export function parseStrictJson(text: string): JsonValue {
  return new Reader(text).document();
}

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return value instanceof Map;
}

/** A JSON value's kind as messages name it. */
export function jsonKind(value: JsonValue | undefined): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Map) return 'an object';
  return `a ${typeof value}`;
}
