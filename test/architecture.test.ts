// The folders of src/ form one direction of flow (docs/architecture.md): no folder cycles, and the
// lower rooms (oci/, registry/, util/) and src/errors.ts import nothing above them.
// The graph is read from every src/**/*.ts file with the TypeScript parser: static imports,
// `import type`, `export … from`, and `import('…')` with a literal string; relative specifiers only.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import {
  buildImportGraph,
  checkLayering,
  collectImports,
  describeEdge,
  findCycles,
  folderGraph,
  folderOf,
  ROOT,
  type ImportEdge,
  type LayerRules,
} from './helpers/import-graph.js';

/** What each lower room may import; every other folder may import anything that keeps the graph acyclic. */
const LOWER_ROOMS: LayerRules = {
  util: ['util', ROOT],
  oci: ['oci', 'util', ROOT],
  registry: ['registry', 'oci', 'util', ROOT],
  [ROOT]: ['util'],
};

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
const PROJECT = fileURLToPath(new URL('../', import.meta.url));

/** The files and imports behind each folder edge of a cycle, one line each. */
function explainCycle(cycle: string[], edges: readonly ImportEdge[]): string {
  const lines = [cycle.join(' -> ')];
  for (let i = 0; i + 1 < cycle.length; i++) {
    const [from, to] = [cycle[i]!, cycle[i + 1]!];
    lines.push(`  ${from} -> ${to}:`);
    for (const e of edges.filter((x) => x.from === from && x.to === to)) lines.push(`    ${describeEdge(e)}`);
  }
  return lines.join('\n');
}

describe('import graph checker (self-check)', () => {
  test('collectImports reads imports with the parser: strings and comments do not count, import type does', () => {
    const source = [
      "import { a } from './a.js';",
      "import type { B } from '../b/b.js';",
      "import { type C } from './c.js';",
      "export { d } from './d.js';",
      "export * from './e.js';",
      "const f = await import('./f.js');",
      'const g = await import(`./g.js`);',
      "type H = typeof import('./h.js');",
      "import './side-effect.js';",
      "import fs from 'node:fs';",
      '// import { x } from \'./in-line-comment.js\';',
      "/* import('./in-block-comment.js') */",
      "const s = \"import { y } from './in-string.js'\";",
      "const t = `export * from './in-template.js' ${1} import('./in-template-2.js')`;",
      'const u = import(new URL("./computed.js", import.meta.url).href);',
      "const v = import('./with-' + name + '.js');",
    ].join('\n');
    const found = collectImports(source);
    assert.deepEqual(
      found.map((f) => [f.specifier, f.kind, f.line]),
      [
        ['./a.js', 'import', 1],
        ['../b/b.js', 'import type', 2],
        ['./c.js', 'import', 3],
        ['./d.js', 'export from', 4],
        ['./e.js', 'export from', 5],
        ['./f.js', 'import()', 6],
        ['./g.js', 'import()', 7],
        ['./h.js', 'import("…") type', 8],
        ['./side-effect.js', 'import', 9],
        ['node:fs', 'import', 10],
      ],
    );
  });

  test('folderOf takes the first segment under src/, or (root)', () => {
    assert.equal(folderOf('errors.ts'), ROOT);
    assert.equal(folderOf('pipeline/lock.ts'), 'pipeline');
    assert.equal(folderOf('cli/commands/build.ts'), 'cli');
  });

  test('findCycles finds a cycle and reports its path', () => {
    const g = new Map([
      ['cli', new Set(['pipeline'])],
      ['pipeline', new Set(['lock', 'source', 'pipeline'])],
      ['lock', new Set(['oci', 'pipeline'])],
      ['source', new Set(['oci'])],
      ['oci', new Set<string>()],
    ]);
    assert.deepEqual(findCycles(g), [['lock', 'pipeline', 'lock']]);
    // Two separate cycles, one of them longer: each is reported once, as a path back to its start.
    const g2 = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a'])],
      ['x', new Set(['y'])],
      ['y', new Set(['x'])],
    ]);
    assert.deepEqual(findCycles(g2), [
      ['a', 'b', 'c', 'a'],
      ['x', 'y', 'x'],
    ]);
  });

  test('findCycles finds nothing in an acyclic graph (a diamond, self-imports ignored)', () => {
    const g = new Map([
      ['cli', new Set(['pipeline', 'report', 'cli'])],
      ['pipeline', new Set(['source', 'lock'])],
      ['source', new Set(['oci'])],
      ['lock', new Set(['oci'])],
      ['report', new Set(['oci'])],
    ]);
    assert.deepEqual(findCycles(g), []);
  });

  test('folderGraph drops same-folder edges and keeps folders with no imports', () => {
    const g = folderGraph([
      { from: 'oci', to: 'oci' },
      { from: 'pipeline', to: 'oci' },
    ]);
    assert.deepEqual([...g.entries()].map(([k, v]) => [k, [...v]]), [
      ['oci', []],
      ['pipeline', ['oci']],
    ]);
  });

  test('checkLayering flags lower rooms importing above them, and nothing else', () => {
    const edges = [
      { from: 'util', to: ROOT, id: 1 },
      { from: 'util', to: 'oci', id: 2 }, // bad
      { from: 'oci', to: 'util', id: 3 },
      { from: 'oci', to: 'registry', id: 4 }, // bad
      { from: 'registry', to: 'oci', id: 5 },
      { from: 'registry', to: 'pipeline', id: 6 }, // bad
      { from: ROOT, to: 'util', id: 7 },
      { from: ROOT, to: 'oci', id: 8 }, // bad
      { from: 'registry', to: 'registry', id: 9 },
      { from: 'pipeline', to: 'cli', id: 10 }, // not a lower room: the cycle check's business
    ];
    assert.deepEqual(
      checkLayering(edges, LOWER_ROOMS).map((e) => e.id),
      [2, 4, 6, 8],
    );
  });
});

describe('src/ architecture', () => {
  const graph = buildImportGraph(SRC, PROJECT);
  const crossFolder = graph.edges.filter((e) => e.from !== e.to);

  test('the import graph is read (not trivially empty)', () => {
    assert.ok(graph.files.length >= 30, `only ${graph.files.length} files read under ${SRC}`);
    assert.ok(graph.folders.length >= 10, `only ${graph.folders.length} folders found: ${graph.folders.join(', ')}`);
    for (const f of ['cli', 'pipeline', 'source', 'oci', 'registry', 'util', ROOT]) {
      assert.ok(graph.folders.includes(f), `folder ${f} not found among ${graph.folders.join(', ')}`);
    }
    assert.ok(
      crossFolder.some((e) => e.from === 'pipeline' && e.to === 'source'),
      'no import from pipeline/ into source/ was found: the graph reader is broken',
    );
    // cli/main.ts loads each command with import(): edges within cli/ count here.
    assert.ok(
      graph.edges.some((e) => e.from === 'cli' && e.kind === 'import()'),
      "no dynamic import('…') from cli/ was found: the graph reader misses dynamic imports",
    );
    assert.ok(crossFolder.length >= 50, `only ${crossFolder.length} imports between folders found`);
  });

  test('every relative import resolves to a file under src/', () => {
    const bad = graph.edges.filter((e) => !e.resolved || !e.insideSrc);
    if (bad.length > 0) {
      assert.fail(`${bad.length} relative import(s) do not name a file under src/:\n${bad.map((e) => `  ${describeEdge(e)}`).join('\n')}`);
    }
  });

  test('no cycles between folders', () => {
    const cycles = findCycles(folderGraph(crossFolder));
    if (cycles.length > 0) {
      assert.fail(`${cycles.length} cycle(s) between folders of src/:\n${cycles.map((c) => explainCycle(c, crossFolder)).join('\n')}`);
    }
  });

  test('the lower rooms (oci/, registry/, util/) and src/errors.ts import nothing above them', () => {
    const bad = checkLayering(crossFolder, LOWER_ROOMS);
    if (bad.length > 0) {
      const lines = bad.map((e) => `  ${e.from} -> ${e.to} (allowed: ${LOWER_ROOMS[e.from]!.join(', ')}): ${describeEdge(e)}`);
      assert.fail(`${bad.length} import(s) from a lower room into a folder above it:\n${lines.join('\n')}`);
    }
  });
});
