// Rules the schema cannot express: reference grammar of container names, tags
// and sources, profile names that must be defined, and architecture names.
// They read attributes defensively, because they also run on descriptions the
// schema rejected (all problems are reported in one run).

import type { DescriptionProblem } from '../errors.js';
import { MAX_NAME_LENGTH, repositoryPathProblem, sourceProblem, TAG } from '../oci/reference.js';
import { archProblem, splitList } from './names.js';
import { quoteValue } from './quote.js';
import type { XmlElement } from './xml.js';

function* walk(el: XmlElement): Generator<XmlElement> {
  yield el;
  for (const c of el.children) yield* walk(c);
}

function attrProblem(el: XmlElement, attr: string, message: string): DescriptionProblem {
  return { message, path: `${el.path}/@${attr}`, line: el.attrLines[attr] ?? el.line };
}

/** Strips the leading and trailing "/" KIWI's path normalisation tolerates. */
export function normaliseRepoPath(path: string): string {
  return path.replace(/^\/+/, '').replace(/\/+$/, '');
}

function containerProblems(section: XmlElement): DescriptionProblem[] {
  const out: DescriptionProblem[] = [];
  const source = section.attrs.source;
  if (source !== undefined) {
    const problem = sourceProblem(source);
    if (problem) out.push(attrProblem(section, 'source', `source ${quoteValue(source)} is not host[:port][/path]: ${problem}`));
  }
  for (const c of section.children) {
    if (c.name !== 'container') continue;
    const { name, path, tag } = c.attrs;
    if (name !== undefined) {
      const problem = repositoryPathProblem(name);
      if (problem) out.push(attrProblem(c, 'name', `container name ${quoteValue(name)} is not a valid repository name: ${problem}`));
    }
    if (path !== undefined) {
      const normal = normaliseRepoPath(path);
      // KIWI treats an empty path (or one of only "/") as no path at all.
      const problem = normal === '' ? null : repositoryPathProblem(normal);
      if (problem) out.push(attrProblem(c, 'path', `container path ${quoteValue(path)} is not a valid repository path: ${problem}`));
    }
    if (tag !== undefined && !TAG.test(tag)) {
      out.push(
        attrProblem(c, 'tag', `tag ${quoteValue(tag)} is not valid: expected 1 to 128 characters of letters, digits, "_", "." and "-", not starting with "." or "-"`),
      );
    }
    if (source !== undefined && name !== undefined) {
      // The whole name, host included, as the reference type counts it.
      const fullName = [source.replace(/\/+$/, ''), normaliseRepoPath(path ?? ''), name].filter((s) => s !== '').join('/');
      if (fullName.length > MAX_NAME_LENGTH) {
        out.push(attrProblem(c, 'name', `repository name "${fullName.slice(0, 40)}…" is ${fullName.length} characters long; registries accept at most ${MAX_NAME_LENGTH}`));
      }
    }
  }
  return out;
}

export function semanticProblems(root: XmlElement): DescriptionProblem[] {
  const out: DescriptionProblem[] = [];
  const defined = new Map<string, XmlElement>();
  for (const section of root.children.filter((c) => c.name === 'profiles')) {
    for (const p of section.children.filter((c) => c.name === 'profile')) {
      const name = p.attrs.name;
      if (name === undefined) continue;
      const first = defined.get(name);
      if (first) out.push(attrProblem(p, 'name', `profile "${name}" is already defined at line ${first.line}`));
      else defined.set(name, p);
    }
  }
  const known = [...defined.keys()];
  const knownText = known.length ? `defined profiles: ${known.join(', ')}` : 'the description defines no profiles';

  for (const el of walk(root)) {
    if (el.name === 'containers' && el.path.split('/').length === 3) out.push(...containerProblems(el));
    if (el.attrs.profiles !== undefined && el.name !== 'image') {
      for (const name of splitList(el.attrs.profiles)) {
        if (!defined.has(name)) out.push(attrProblem(el, 'profiles', `profile "${name}" is not defined (${knownText})`));
      }
    }
    if (el.name === 'requires' && el.attrs.profile !== undefined && !defined.has(el.attrs.profile)) {
      out.push(attrProblem(el, 'profile', `required profile "${el.attrs.profile}" is not defined (${knownText})`));
    }
    if (el.attrs.arch !== undefined) {
      const items = splitList(el.attrs.arch);
      if (items.length === 0) out.push(attrProblem(el, 'arch', 'arch is empty; leave the attribute out to match every architecture'));
      for (const arch of items) {
        const problem = archProblem(arch);
        if (problem) out.push(attrProblem(el, 'arch', problem));
      }
    }
  }
  return out;
}
