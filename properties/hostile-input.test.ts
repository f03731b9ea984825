/**
 * Hostile input, generated: fast-check mutates valid scenario files, counterexample files, replay
 * lines and shard results (a value swapped for one of the wrong type, size or sign, a field
 * deleted or added, the text cut short) and runs the command on each through the command line,
 * in-process. Whatever the input, the command exits 0, 1 or 2: never 3 (a bug in prestore), and
 * never with a stack trace. Seeded (`PRESTORE_SEED`), `PRESTORE_RUNS / 2` inputs per kind.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TextSink } from '../src/cli/text-sink.js';
import type { CommandIo } from '../src/cli/command.js';
import { runCli } from '../src/cli/dispatch.js';
import { numericSeed } from '../src/harness/explore.js';
import { decodeCase } from '../src/harness/replay-line.js';
import { bundledScenariosDir } from '../src/harness/scenario-file.js';
import { RUNS, SEED } from './settings.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };


const dir = mkdtempSync(join(tmpdir(), 'prestore-hostile-props-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; stderr: string }> {
  const stderr = new TextSink();
  const io: CommandIo = { stdout: new TextSink(), stderr, env: {}, cwd: dir, seams: { now: () => 0, randomSeed: () => 'fresh' } };
  return { code: await runCli(argv, io), stderr: stderr.text };
}

/** The verdict on one hostile input: 0, 1 or 2, and no trace of an internal error. */
function survived(r: { code: number; stderr: string }, input: string): void {
  expect(r.stderr, input).not.toMatch(/internal error|\n\s+at \S/);
  expect([0, 1, 2], `exit ${r.code} on ${input}\n${r.stderr}`).toContain(r.code);
}

// --- mutations -----------------------------------------------------------------------------------

/** Values of every wrong kind: types, signs, sizes past every bound, near-miss numbers. */
const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(null, true, false, '', 'x', '1/0', '2/2', -1, -512, 0, 1.5, 511, 512, 513, 4096, 2 ** 31, 2 ** 32 + 512, 2 ** 40, 2 ** 53, 1e300, [], {}, [null], [0, 0], { op: 'step' }, 'drop', 'keep', 'subset', 'torn', 'all'),
  fc.integer({ min: -2, max: 40 }),
  fc.string({ maxLength: 6 }),
);

/** Numbers near and past every bound: sizes, counts, points, indices. */
const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(-1, -512, 0, 1.5, 511, 513, 1024, 2 ** 31, 2 ** 32 + 512, 2 ** 40, 2 ** 53, 1e300) },
  { weight: 1, arbitrary: fc.integer({ min: -2, max: 40 }) },
);

type Mutation =
  | { readonly kind: 'set'; readonly at: number; readonly value: Json }
  | { readonly kind: 'number'; readonly at: number; readonly value: number }
  | { readonly kind: 'delete'; readonly at: number }
  | { readonly kind: 'add'; readonly at: number; readonly key: string; readonly value: Json };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: hostileValue }) },
  // Most fields are numbers, and most bounds are on numbers: a number for a number, often.
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('number' as const), at: fc.nat(), value: hostileNumber }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('add' as const), at: fc.nat(), key: fc.constantFrom('x', 'point', 'sectors', 'choice', 'mode', 'count'), value: hostileValue }) },
);

type Path = readonly (string | number)[];

function pathsOf(value: Json, at: Path = []): Path[] {
  if (Array.isArray(value)) return [at, ...value.flatMap((v, i) => pathsOf(v, [...at, i]))];
  if (value !== null && typeof value === 'object') return [at, ...Object.entries(value).flatMap(([k, v]) => pathsOf(v, [...at, k]))];
  return [at];
}

function valueAt(doc: Json, path: Path): Json {
  return path.reduce<Json>((v, k) => (v as Record<string | number, Json>)[k]!, doc);
}

/** `base` with each mutation applied at a path it picks among those the document then has. */
function mutated(base: Json, mutations: readonly Mutation[]): Json {
  let doc = structuredClone(base);
  for (const m of mutations) {
    const all = pathsOf(doc);
    const numbers = all.filter((p) => typeof valueAt(doc, p) === 'number');
    const paths = m.kind === 'number' && numbers.length > 0 ? numbers : all;
    const path = paths[m.at % paths.length]!;
    if (m.kind === 'add') {
      const target = valueAt(doc, path);
      if (Array.isArray(target)) target.push(m.value);
      else if (target !== null && typeof target === 'object') target[m.key] = m.value;
      continue;
    }
    if (path.length === 0) {
      if (m.kind !== 'delete') doc = m.value;
      continue;
    }
    const parent = valueAt(doc, path.slice(0, -1)) as Record<string | number, Json> | Json[];
    const key = path[path.length - 1]!;
    if (m.kind !== 'delete') (parent as Record<string | number, Json>)[key] = m.value;
    else if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  }
  return doc;
}

/** JSON text of `base`, mutated, and sometimes cut short. */
function hostileText(base: Json): fc.Arbitrary<string> {
  const cutAt = fc.oneof({ weight: 5, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() });
  // Mostly one mutation, so that the first problem found is often the only one.
  const mutations = fc.oneof({ weight: 3, arbitrary: fc.tuple(mutation) }, { weight: 1, arbitrary: fc.array(mutation, { minLength: 2, maxLength: 3 }) });
  return fc.tuple(mutations, cutAt).map(([mutations, cut]) => {
    const text = JSON.stringify(mutated(base, mutations)) ?? '';
    return cut === null ? text : text.slice(0, cut % (text.length + 1));
  });
}

const options = (kind: string) => ({ seed: numericSeed(`${SEED}:${kind}`), numRuns: Math.max(20, Math.ceil(RUNS / 2)) });

// --- the four kinds of input ---------------------------------------------------------------------

/** A scenario small enough that exhausting whatever valid variant fast-check makes takes milliseconds. */
const tinyScenario: Json = {
  name: 'tiny',
  description: 'a small scenario for mutation',
  geometry: { volumeSize: 2048, sectorSize: 512, extentSectors: 2 },
  initial: { differ: [1], delta: 'exact' },
  workload: [
    { op: 'startRestore', protect: true },
    { op: 'write', volume: 'source', offset: 512, length: 512, pattern: 1 },
    { op: 'step', count: 1 },
  ],
  crash: { modes: ['drop'], depth: 1 },
};

const regression = JSON.parse(readFileSync(join(bundledScenariosDir(), 'regressions', 'mutant-clear-before-durable-reads-right-7435f9d304.json'), 'utf8')) as { [key: string]: Json } & { foundBy: { replay: string } };
const line = regression.foundBy.replay;
const token = line.split(' ').pop()!;
const ENGINE = line.slice(0, line.length - token.length).replace(/^prestore replay /, '').trim();

describe('hostile input: exit 0, 1 or 2, never an internal error', () => {
  it('scenario files (exhaust)', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(hostileText(tinyScenario), async (text) => {
        writeFileSync(join(dir, 'scenario.json'), text);
        survived(await cli('exhaust', 'scenario.json'), text);
      }),
      options('scenario'),
    );
  });

  it('counterexample files (replay FILE)', { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(hostileText(regression), async (text) => {
        writeFileSync(join(dir, 'counterexample.json'), text);
        survived(await cli('replay', 'counterexample.json'), text);
      }),
      options('counterexample'),
    );
  });

  it('replay lines (replay LINE)', { timeout: 120_000 }, async () => {
    const { case: c, seed } = decodeCase(token);
    await fc.assert(
      fc.asyncProperty(hostileText({ case: c as unknown as Json, seed }), async (text) => {
        // The line's own encoding, of whatever text the mutation left.
        const mutatedToken = 'c1.' + deflateRawSync(Buffer.from(text)).toString('base64url');
        survived(await cli('replay', `prestore replay ${ENGINE} ${mutatedToken}`), text);
      }),
      options('line'),
    );
  });

  describe('shard results (merge)', () => {
    let shard: Json;
    beforeAll(async () => {
      for (const i of [1, 2]) expect((await cli('explore', '--runs', '2', '--seed', 'hostile', '--shard', `${i}/2`, '--json', `shard${i}.json`)).code).toBe(0);
      shard = JSON.parse(readFileSync(join(dir, 'shard1.json'), 'utf8')) as Json;
    }, 60_000);

    it('one shard mutated, merged with its sibling', { timeout: 120_000 }, async () => {
      await fc.assert(
        fc.asyncProperty(hostileText(shard), async (text) => {
          writeFileSync(join(dir, 'mutated.json'), text);
          survived(await cli('merge', 'mutated.json', 'shard2.json'), text);
        }),
        options('shard'),
      );
    });
  });
});
