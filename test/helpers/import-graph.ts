// The import graph between the folders of src/, read with the TypeScript parser (not regexes), so
// import-shaped text inside strings, template literals and comments is never counted.
// Used by test/architecture.test.ts.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/** The folder name given to files directly in src/ (src/errors.ts). */
export const ROOT = '(root)';

export type ImportKind = 'import' | 'import type' | 'export from' | 'import()' | 'import("…") type' | 'import = require';

/** One module specifier found in a file. */
export interface FoundImport {
  specifier: string;
  kind: ImportKind;
  /** 1-based line of the import in its file. */
  line: number;
}

/** One relative import of one file under src/, resolved to a folder. */
export interface ImportEdge {
  /** Folder of the importing file. */
  from: string;
  /** Folder of the imported file. */
  to: string;
  /** Importing file, relative to the project root, with forward slashes (src/pipeline/lock.ts). */
  file: string;
  line: number;
  specifier: string;
  kind: ImportKind;
  /** Imported file, relative to the project root, with forward slashes. */
  target: string;
  /** False when no file exists for the specifier (the target is then the path the specifier names). */
  resolved: boolean;
  /** False when the specifier points outside src/ (then `to` is not a src folder). */
  insideSrc: boolean;
}

export interface ImportGraph {
  /** Every .ts file read, relative to the project root. */
  files: string[];
  /** Every folder that holds at least one file, (root) included when src/ has files of its own. */
  folders: string[];
  /** Every relative import of every file, same-folder ones included. */
  edges: ImportEdge[];
}

/** Every module specifier a TypeScript source imports: static, `import type`, re-exports, literal dynamic `import('…')` and `import('…')` types. */
export function collectImports(sourceText: string, fileName = 'file.ts'): FoundImport[] {
  const sf = ts.createSourceFile(fileName, sourceText, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: FoundImport[] = [];
  const add = (node: ts.Node, spec: ts.Node | undefined, kind: ImportKind): void => {
    if (!spec || !(ts.isStringLiteral(spec) || ts.isNoSubstitutionTemplateLiteral(spec))) return;
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
    found.push({ specifier: spec.text, kind, line });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const typeOnly = node.importClause?.isTypeOnly === true;
      add(node, node.moduleSpecifier, typeOnly ? 'import type' : 'import');
    } else if (ts.isExportDeclaration(node)) {
      add(node, node.moduleSpecifier, 'export from');
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, 'import = require');
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node, node.arguments[0], 'import()');
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, node.argument.literal, 'import("…") type');
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** True for './x', '../x', '.', '..'. */
export function isRelative(specifier: string): boolean {
  return specifier === '.' || specifier === '..' || specifier.startsWith('./') || specifier.startsWith('../');
}

/** The folder of a path relative to src/ (forward slashes): its first segment, or (root) for a file directly in src/. */
export function folderOf(pathInSrc: string): string {
  const i = pathInSrc.indexOf('/');
  return i < 0 ? ROOT : pathInSrc.slice(0, i);
}

const toPosix = (p: string): string => p.split(sep).join('/');

/** Every .ts file below dir (declaration files included), absolute paths, sorted. */
export function listTsFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /\.(c|m)?ts$/.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** The file a relative specifier names, as NodeNext resolves it from TypeScript ('./x.js' is ./x.ts); the named path itself when nothing exists. */
export function resolveRelative(fromFile: string, specifier: string): { path: string; resolved: boolean } {
  const base = resolve(dirname(fromFile), specifier);
  const candidates: string[] = [];
  const swapped = base.replace(/\.js$/, '.ts').replace(/\.mjs$/, '.mts').replace(/\.cjs$/, '.cts');
  if (swapped !== base) candidates.push(swapped, swapped.replace(/\.(c|m)?ts$/, '.d.$1ts'));
  candidates.push(base, `${base}.ts`, `${base}.d.ts`, join(base, 'index.ts'), join(base, 'index.d.ts'));
  for (const c of candidates) {
    try {
      if (statSync(c).isFile()) return { path: c, resolved: true };
    } catch {
      // not this one
    }
  }
  return { path: swapped, resolved: false };
}

/** Reads every .ts file below srcDir and returns its relative imports as folder edges. Paths in the result are relative to projectDir. */
export function buildImportGraph(srcDir: string, projectDir = dirname(srcDir)): ImportGraph {
  if (!existsSync(srcDir)) throw new Error(`no source folder at ${srcDir}`);
  const files = listTsFiles(srcDir);
  const folders = new Set<string>();
  const edges: ImportEdge[] = [];
  for (const abs of files) {
    const from = folderOf(toPosix(relative(srcDir, abs)));
    folders.add(from);
    for (const imp of collectImports(readFileSync(abs, 'utf8'), abs)) {
      if (!isRelative(imp.specifier)) continue;
      const { path, resolved } = resolveRelative(abs, imp.specifier);
      const inSrc = toPosix(relative(srcDir, path));
      const insideSrc = !inSrc.startsWith('../') && inSrc !== '..' && !inSrc.startsWith('/');
      edges.push({
        from,
        to: insideSrc ? folderOf(inSrc) : `(outside src: ${toPosix(relative(projectDir, path))})`,
        file: toPosix(relative(projectDir, abs)),
        line: imp.line,
        specifier: imp.specifier,
        kind: imp.kind,
        target: toPosix(relative(projectDir, path)),
        resolved,
        insideSrc,
      });
    }
  }
  return { files: files.map((f) => toPosix(relative(projectDir, f))), folders: [...folders].sort(), edges };
}

/** The folder graph: for each folder, the other folders it imports (same-folder imports left out). */
export function folderGraph(edges: readonly Pick<ImportEdge, 'from' | 'to'>[]): Map<string, Set<string>> {
  const g = new Map<string, Set<string>>();
  for (const e of edges) {
    if (!g.has(e.from)) g.set(e.from, new Set());
    if (!g.has(e.to)) g.set(e.to, new Set());
    if (e.from !== e.to) g.get(e.from)!.add(e.to);
  }
  return g;
}

/**
 * One cycle for each group of folders that import each other (each strongly connected component of
 * more than one folder), as a path that ends where it starts: ['pipeline', 'lock', 'pipeline'].
 * The cycle given is a shortest one in its group; [] when the graph has no cycle.
 */
export function findCycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const nodes = new Set<string>(graph.keys());
  for (const tos of graph.values()) for (const t of tos) nodes.add(t);
  const next = (n: string): string[] => [...(graph.get(n) ?? [])].filter((t) => t !== n).sort();

  // Tarjan's strongly connected components.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) components.push(comp.sort());
    }
  };
  for (const n of [...nodes].sort()) if (!index.has(n)) connect(n);

  // A shortest cycle inside each component: breadth-first from each member back to itself.
  const cycles: string[][] = [];
  for (const comp of components.sort((a, b) => a[0]!.localeCompare(b[0]!))) {
    const members = new Set(comp);
    let best: string[] | undefined;
    for (const start of comp) {
      const prev = new Map<string, string>();
      const queue = [start];
      let found = false;
      while (queue.length > 0 && !found) {
        const v = queue.shift()!;
        for (const w of next(v)) {
          if (!members.has(w)) continue;
          if (w === start) {
            // start → … → v, then v → start closes it.
            const path: string[] = [];
            for (let u = v; u !== start; u = prev.get(u)!) path.unshift(u);
            const cycle = [start, ...path, start];
            if (!best || cycle.length < best.length) best = cycle;
            found = true;
            break;
          }
          if (!prev.has(w) && w !== start) {
            prev.set(w, v);
            queue.push(w);
          }
        }
      }
    }
    cycles.push(best!);
  }
  return cycles;
}

/** Which folders each restricted folder may import (its own folder is always allowed). Folders not listed are unrestricted. */
export type LayerRules = Readonly<Record<string, readonly string[]>>;

/** Every edge from a restricted folder to a folder its rule does not allow. */
export function checkLayering<E extends Pick<ImportEdge, 'from' | 'to'>>(edges: readonly E[], rules: LayerRules): E[] {
  return edges.filter((e) => {
    const allowed = rules[e.from];
    return allowed !== undefined && e.from !== e.to && !allowed.includes(e.to);
  });
}

/** "src/pipeline/lock.ts:3 import '../lock/lock-file.js' (→ src/lock/lock-file.ts)" */
export function describeEdge(e: ImportEdge): string {
  const where = e.resolved ? e.target : `${e.target}, which does not exist`;
  return `${e.file}:${e.line} ${e.kind} '${e.specifier}' (→ ${where})`;
}
