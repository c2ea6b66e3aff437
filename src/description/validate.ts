// Text -> checked element tree. Runs every stage that can find problems and
// returns them all at once: well-formedness, schema version, schema, rules.

import type { DescriptionProblem } from '../errors.js';
import { toInstance } from './instance.js';
import { semanticProblems } from './rules.js';
import { schemaProblems } from './schema.js';
import { compareVersions, CURRENT_SCHEMA, KNOWN_SCHEMAS, OLDEST_SCHEMA, upgrade } from './upgrade.js';
import { quoteValue } from './quote.js';
import { parseXml, type XmlElement } from './xml.js';

export type Checked = { root: XmlElement; problems: DescriptionProblem[] };

function byLine(a: DescriptionProblem, b: DescriptionProblem): number {
  return (a.line ?? 0) - (b.line ?? 0) || a.path.localeCompare(b.path);
}

/** Parses and checks a description; `root` is null when it could not be parsed at all. */
export function checkDescriptionText(text: string): { root: XmlElement | null; problems: DescriptionProblem[] } {
  const parsed = parseXml(text);
  if (!parsed.ok) return { root: null, problems: parsed.problems };
  const original = parsed.root;
  if (original.name !== 'image') {
    return {
      root: null,
      problems: [{ message: `the root element must be <image>, not <${original.name}>`, path: original.path, line: original.line }],
    };
  }
  const problems: DescriptionProblem[] = [];
  const version = original.attrs.schemaversion;
  let root = original;
  if (version === undefined) {
    problems.push({ message: `<image> is missing the required attribute "schemaversion" (${OLDEST_SCHEMA} to ${CURRENT_SCHEMA})`, path: '/image', line: original.line });
  } else if (!(KNOWN_SCHEMAS as readonly string[]).includes(version)) {
    const tooOld = /^\d+\.\d+$/.test(version) && compareVersions(version, OLDEST_SCHEMA) < 0;
    problems.push({
      message: `schemaversion ${quoteValue(version)} is not supported; allowed: ${KNOWN_SCHEMAS.join(', ')}` +
        (tooOld ? ' (descriptions older than 7.4 must first be converted with KIWI)' : ''),
      path: '/image/@schemaversion',
      line: original.attrLines.schemaversion ?? original.line,
    });
  } else {
    root = upgrade(original, version);
  }
  // The schema pins the current version; the version check above already spoke.
  const current = Object.freeze({ ...root, attrs: Object.freeze({ ...root.attrs, schemaversion: CURRENT_SCHEMA }) }) as XmlElement;
  problems.push(...schemaProblems(toInstance(current)));
  problems.push(...semanticProblems(root));
  problems.sort(byLine);
  return { root, problems };
}

/** Convenience for tools: only the problems. */
export function validateDescriptionText(text: string): DescriptionProblem[] {
  return checkDescriptionText(text).problems;
}
