// The text edit behind `imgdesc compile`: a description without its
// <containers> sections and with one <archive> that carries what they
// described. The result must be the author's file with exactly these edits,
// so nothing is re-serialised: a small scanner finds the character offsets
// of <image>'s direct children (fast-xml-parser gives only start offsets and
// lines), and the edits are spliced into the text as written.
//
// The scanner expects well-formed XML (the description is validated first);
// anything it cannot read is a bug, and throws.

/** An element and where it is in the text. */
export interface ScannedElement {
  readonly name: string;
  /** Attribute values with entity and character references decoded. */
  readonly attrs: Readonly<Record<string, string>>;
  /** Offset of the "<" of the start tag. */
  readonly start: number;
  /** Offset just after the start tag's ">". */
  readonly openEnd: number;
  /** Offset of the "<" of the end tag; openEnd when self-closing. */
  readonly closeStart: number;
  /** Offset just after the element's last ">". */
  readonly end: number;
  readonly selfClosing: boolean;
  readonly children: readonly ScannedElement[];
}

type Building = Omit<ScannedElement, 'closeStart' | 'end' | 'children'> & { closeStart: number; end: number; children: ScannedElement[] };

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(value: string): string {
  return value.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    return ENTITIES[ref] ?? whole;
  });
}

/** Offset just after the ">" that ends the tag starting at `lt`; quoted values may hold ">". */
function tagEnd(text: string, lt: number): number {
  for (let i = lt + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'") {
      const close = text.indexOf(c, i + 1);
      if (close === -1) break;
      i = close;
    } else if (c === '>') {
      return i + 1;
    }
  }
  throw new Error(`unterminated tag at offset ${lt}`);
}

function parseStartTag(tag: string): { name: string; attrs: Record<string, string> } {
  const name = /^<([^\s/>]+)/.exec(tag)?.[1];
  if (!name) throw new Error(`cannot read the tag ${JSON.stringify(tag.slice(0, 40))}`);
  const attrs: Record<string, string> = {};
  const re = /([^\s=/<>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  re.lastIndex = name.length + 1;
  for (let m = re.exec(tag); m; m = re.exec(tag)) attrs[m[1]!] = decode(m[2] ?? m[3] ?? '');
  return { name, attrs };
}

/** Offset after the construct starting at `lt` that holds no elements (comment, CDATA, PI), or -1. */
function skipOpaque(text: string, lt: number): number {
  const kinds: Array<[string, string]> = [['<!--', '-->'], ['<![CDATA[', ']]>'], ['<?', '?>']];
  for (const [open, close] of kinds) {
    if (!text.startsWith(open, lt)) continue;
    const end = text.indexOf(close, lt + open.length);
    if (end === -1) throw new Error(`unterminated ${open} at offset ${lt}`);
    return end + close.length;
  }
  if (text.startsWith('<!', lt)) throw new Error(`unexpected markup declaration at offset ${lt}`);
  return -1;
}

/** The document element with every element below it, with offsets. */
export function scanElements(text: string): ScannedElement {
  const top: Building = { name: '', attrs: {}, start: 0, openEnd: 0, closeStart: 0, end: 0, selfClosing: false, children: [] };
  const stack: Building[] = [top];
  for (let lt = text.indexOf('<'); lt !== -1; ) {
    let next = skipOpaque(text, lt);
    if (next === -1) {
      next = tagEnd(text, lt);
      if (text[lt + 1] === '/') closeElement(stack, text.slice(lt + 2, next - 1).trim(), lt, next);
      else openElement(stack, text.slice(lt, next), lt, next);
    }
    lt = text.indexOf('<', next);
  }
  if (stack.length !== 1 || top.children.length !== 1) throw new Error('the text is not one well-formed document');
  return top.children[0]!;
}

function openElement(stack: Building[], tag: string, start: number, openEnd: number): void {
  const { name, attrs } = parseStartTag(tag);
  const selfClosing = tag.endsWith('/>');
  const el: Building = { name, attrs, start, openEnd, closeStart: openEnd, end: openEnd, selfClosing, children: [] };
  stack[stack.length - 1]!.children.push(el);
  if (!selfClosing) stack.push(el);
}

function closeElement(stack: Building[], name: string, closeStart: number, end: number): void {
  const el = stack.pop();
  if (!el || stack.length === 0 || el.name !== name) throw new Error(`</${name}> at offset ${closeStart} closes nothing open`);
  el.closeStart = closeStart;
  el.end = end;
}

// ---- layout helpers: lines and indentation as the author wrote them ----

const lineStart = (text: string, pos: number) => text.lastIndexOf('\n', pos - 1) + 1;

function lineEnd(text: string, pos: number): number {
  const nl = text.indexOf('\n', pos);
  return nl === -1 ? text.length : nl;
}

/** The spaces and tabs that begin the line holding `pos`. */
function lineIndent(text: string, pos: number): string {
  return /^[ \t]*/.exec(text.slice(lineStart(text, pos), pos))![0];
}

const blank = (s: string) => /^[ \t\r]*$/.test(s);
const ownsLineStart = (text: string, el: { start: number }) => blank(text.slice(lineStart(text, el.start), el.start));

/** One level of indentation: how far a child sits in from its parent, as the file does it. */
function indentUnit(text: string, root: ScannedElement): string {
  for (const parent of [root, ...root.children]) {
    const child = parent.children.find((c) => ownsLineStart(text, c));
    if (!child || !ownsLineStart(text, parent)) continue;
    const [outer, inner] = [lineIndent(text, parent.start), lineIndent(text, child.start)];
    if (inner.length > outer.length && inner.startsWith(outer)) return inner.slice(outer.length);
  }
  return '    ';
}

// ---- the edits ----

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/** Applies edits given in offsets of the original text; they must not overlap. */
function applyEdits(text: string, edits: Edit[]): string {
  const sorted = [...edits].sort((a, b) => b.start - a.start || b.end - a.end);
  let out = text;
  let limit = Infinity;
  for (const e of sorted) {
    if (e.end > limit) throw new Error(`overlapping edits at offset ${e.start}`);
    out = out.slice(0, e.start) + e.text + out.slice(e.end);
    limit = e.start;
  }
  return out;
}

/** The text with these elements blanked out (newlines kept), so that they count as blank beside each other. */
function blankedOut(text: string, els: readonly ScannedElement[]): string {
  let out = text;
  for (const el of els) out = out.slice(0, el.start) + text.slice(el.start, el.end).replace(/[^\n]/g, ' ') + out.slice(el.end);
  return out;
}

/**
 * The span that removes `el` without leaving a hole: its whole lines when it
 * has them to itself (other removed elements count as blank), else the
 * element and the spaces that separated it from what stays on the line.
 */
function removal(text: string, blanked: string, el: ScannedElement): Edit {
  const ls = lineStart(text, el.start);
  const le = lineEnd(text, el.end);
  const before = blanked.slice(ls, el.start);
  const after = blanked.slice(el.end, le);
  if (blank(before) && blank(after)) {
    if (le >= text.length) return { start: Math.max(0, ls - 1), end: le, text: '' };
    return { start: ls, end: le + 1, text: '' };
  }
  if (blank(before)) return { start: el.start, end: el.end + /^[ \t]*/.exec(after)![0].length, text: '' };
  return { start: el.start - /[ \t]*$/.exec(before)![0].length, end: el.end, text: '' };
}

/**
 * Whole lines removed between two blank lines would leave two blank lines
 * in a row: the one after goes too.
 */
function withoutDoubleBlank(text: string, e: Edit): Edit {
  const wholeLines = e.start === lineStart(text, e.start) && text[e.end - 1] === '\n';
  if (!wholeLines || e.start === 0 || e.end >= text.length) return e;
  const blankBefore = blank(text.slice(lineStart(text, e.start - 1), e.start - 1));
  const nextEnd = lineEnd(text, e.end);
  return blankBefore && nextEnd < text.length && blank(text.slice(e.end, nextEnd)) ? { ...e, end: nextEnd + 1 } : e;
}

/** Removals that overlap or touch, as one. */
function merged(edits: Edit[]): Edit[] {
  const out: Edit[] = [];
  for (const e of [...edits].sort((a, b) => a.start - b.start)) {
    const last = out[out.length - 1];
    if (last && e.start <= last.end) out[out.length - 1] = { start: last.start, end: Math.max(last.end, e.end), text: '' };
    else out.push(e);
  }
  return out;
}

/** A <packages type="image"> that applies to every profile and architecture. */
const unconditionalImagePackages = (el: ScannedElement) =>
  el.name === 'packages' && el.attrs.type === 'image' && el.attrs.profiles === undefined && el.attrs.arch === undefined;

/** Adds the archive as the last line of an existing section, indented like its siblings. */
function insertInto(text: string, el: ScannedElement, line: string, unit: string, nl: string): Edit {
  const indent = lineIndent(text, el.start);
  const lastChild = el.children[el.children.length - 1];
  const childIndent = lastChild ? lineIndent(text, lastChild.start) : indent + unit;
  if (el.selfClosing) {
    return { start: el.end - 2, end: el.end, text: `>${nl}${childIndent}${line}${nl}${indent}</${el.name}>` };
  }
  const inner = text.slice(el.openEnd, el.closeStart);
  const contentEnd = el.openEnd + inner.trimEnd().length;
  if (contentEnd > el.openEnd || inner.includes('\n')) return { start: contentEnd, end: contentEnd, text: `${nl}${childIndent}${line}` };
  return { start: el.openEnd, end: el.closeStart, text: `${nl}${childIndent}${line}${nl}${indent}` };
}

/**
 * Where text that follows `el` on its own line goes: the end of el's line,
 * past blanks and comments that trail el there (they belong to it), or
 * right after el when other markup shares its line.
 */
function afterLine(text: string, el: ScannedElement): number {
  let i = el.end;
  for (;;) {
    while (text[i] === ' ' || text[i] === '\t') i++;
    const close = text.startsWith('<!--', i) ? text.indexOf('-->', i + 4) : -1;
    if (close === -1) break;
    i = close + 3;
  }
  if (text[i] === '\r' && text[i + 1] === '\n') return i;
  return i >= text.length || text[i] === '\n' ? i : el.end;
}

// KIWI's schema lists <image>'s children in this order (description,
// preferences, profiles, users, drivers, strip, repository, packages, …);
// its interleave does not enforce it, but a new section goes where an
// author would look for it.
const BEFORE_PACKAGES = new Set(['description', 'preferences', 'profiles', 'users', 'drivers', 'strip', 'repository']);

/** A new unconditional <packages type="image"> right after the last <packages> (else the last element KIWI orders before it). */
function newSection(text: string, image: ScannedElement, line: string, unit: string, nl: string): Edit {
  const kids = image.children;
  const anchor = kids.filter((c) => c.name === 'packages').pop() ?? kids.filter((c) => BEFORE_PACKAGES.has(c.name)).pop();
  if (!anchor) throw new Error('<image> has no <description> to place a <packages> section after');
  const indent = lineIndent(text, anchor.start);
  const at = afterLine(text, anchor);
  return { start: at, end: at, text: `${nl}${indent}<packages type="image">${nl}${indent}${unit}${line}${nl}${indent}</packages>` };
}

export interface CompiledText {
  readonly text: string;
  /** How many <containers> sections were removed. */
  readonly removed: number;
  /** "existing": the archive went into an unconditional <packages type="image">; "new": a section was added. */
  readonly placed: 'existing' | 'new';
}

/**
 * The description text with every <containers> child of <image> removed and
 * `<archive name="ARCHIVE"/>` added to a <packages type="image"> that applies
 * to every selection. Everything else stays byte for byte as written.
 */
export function compileText(text: string, archive: string): CompiledText {
  const image = scanElements(text);
  if (image.name !== 'image') throw new Error(`the document element is <${image.name}>, not <image>`);
  const nl = text.includes('\r\n') ? '\r\n' : '\n';
  const unit = indentUnit(text, image);
  const line = `<archive name="${archive.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')}"/>`;
  const sections = image.children.filter((c) => c.name === 'containers');
  const blanked = blankedOut(text, sections);
  const edits = merged(merged(sections.map((el) => removal(text, blanked, el))).map((e) => withoutDoubleBlank(text, e)));
  const target = image.children.find(unconditionalImagePackages);
  edits.push(target ? insertInto(text, target, line, unit, nl) : newSection(text, image, line, unit, nl));
  return { text: applyEdits(text, edits), removed: sections.length, placed: target ? 'existing' : 'new' };
}

/** The `name` of every <archive> in the description's <packages> sections, in order. */
export function archiveNames(text: string): string[] {
  return scanElements(text)
    .children.filter((c) => c.name === 'packages')
    .flatMap((p) => p.children.filter((c) => c.name === 'archive').map((a) => a.attrs.name ?? ''));
}
