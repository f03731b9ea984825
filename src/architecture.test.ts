/**
 * The shape of the tree: imports point down the layers below, and no module imports itself back
 * through others. A module may import its own folder and any lower layer; anything else fails here
 * with the offending import named. Test files sit beside the code and may reach up (to drive the
 * command line, say), so they are not part of the graph.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Lowest first. A module may import from its own layer or any layer before it. */
const LAYERS: readonly (readonly string[])[] = [
  ['src/errors.ts', 'model'],
  ['src/devices'],
  ['src/engine'],
  ['src/protocol', 'src/images', 'src/harness'],
  ['src/mutants', 'src/nbd'],
  ['src/report-html'],
  ['src/cli'],
  ['src/bench', 'src/index.ts', 'src/check-engine.ts'],
];

type Graph = ReadonlyMap<string, readonly string[]>;

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

function importGraph(): Graph {
  const graph = new Map<string, string[]>();
  for (const file of [...sourceFiles('src'), ...sourceFiles('model')]) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const targets = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s+'(\.[^']+)'/g)].map((m) =>
      relative(ROOT, normalize(join(ROOT, dirname(file), m[1]!.replace(/\.js$/, '.ts')))),
    );
    graph.set(file, targets);
  }
  return graph;
}

/** The unit a file belongs to: the longest layer entry that is the file or a folder holding it. */
export function layerOf(file: string, layers: readonly (readonly string[])[] = LAYERS): number {
  let best = -1;
  let bestLength = -1;
  layers.forEach((units, level) => {
    for (const unit of units) {
      if ((file === unit || file.startsWith(`${unit}/`)) && unit.length > bestLength) {
        best = level;
        bestLength = unit.length;
      }
    }
  });
  return best;
}

/** Every import that points up a layer, or out of every layer, as "from → to". */
export function upwardImports(graph: Graph, layers: readonly (readonly string[])[] = LAYERS): string[] {
  const wrong: string[] = [];
  for (const [from, targets] of graph) {
    const own = layerOf(from, layers);
    for (const to of targets) {
      const theirs = layerOf(to, layers);
      if (own < 0 || theirs < 0 || theirs > own) wrong.push(`${from} → ${to}`);
    }
  }
  return wrong;
}

/** The import cycles (strongly connected components of more than one module, or a self-import). */
export function importCycles(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

describe('the import graph', () => {
  const graph = importGraph();

  it('has modules to check', () => {
    expect(graph.size).toBeGreaterThan(50);
  });

  it('points down: no module imports a layer above its own', () => {
    expect(upwardImports(graph)).toEqual([]);
  });

  it('has no cycle', () => {
    expect(importCycles(graph)).toEqual([]);
  });
});

describe('the checks themselves', () => {
  it('find an upward import', () => {
    const g = new Map([
      ['src/devices/a.ts', ['src/cli/b.ts']],
      ['src/cli/b.ts', ['src/devices/a.ts']],
    ]);
    expect(upwardImports(g)).toEqual(['src/devices/a.ts → src/cli/b.ts']);
  });

  it('find a module outside every layer', () => {
    expect(upwardImports(new Map([['src/elsewhere/x.ts', []], ['src/cli/y.ts', ['src/elsewhere/x.ts']]]))).toEqual(['src/cli/y.ts → src/elsewhere/x.ts']);
  });

  it('find a cycle inside one layer', () => {
    const g = new Map([
      ['src/harness/a.ts', ['src/harness/b.ts']],
      ['src/harness/b.ts', ['src/harness/c.ts']],
      ['src/harness/c.ts', ['src/harness/a.ts']],
      ['src/harness/d.ts', ['src/harness/a.ts']],
    ]);
    expect(importCycles(g)).toEqual([['src/harness/a.ts', 'src/harness/b.ts', 'src/harness/c.ts']]);
  });

  it('read type-only and re-export imports as edges', () => {
    const graph = importGraph();
    expect(graph.get('src/harness/case.ts')).toContain('src/harness/oracle/rules.ts');
  });
});
