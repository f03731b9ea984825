/**
 * Counterexample files: the published schema, the round trip from a violation to a file and back
 * to the same case, seed-free replay, and bad files rejected with the field named.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { referenceEngine } from '../engine/reference/index.js';
import { mutants } from '../mutants/catalogue.js';
import type { Case } from './case.js';
import {
  caseOf,
  counterexampleFileName,
  counterexampleOf,
  counterexampleSchemaPath,
  type CounterexampleFile,
  formatCounterexample,
  parseCounterexample,
  replayCounterexample,
  REPLAY_SEEDS,
  seedFreeCase,
} from './counterexample.js';
import { traceDigest } from './determinism.js';
import { explore } from './explore.js';
import { runCase } from './run-case.js';
import { bundledScenariosDir } from './scenario-file.js';

const NAME = 'clear-before-durable';
const engine = mutants.find((m) => m.name === NAME)!.factory;
const engineArgs = `--engine mutant:${NAME}`;
const schema = JSON.parse(readFileSync(counterexampleSchemaPath(), 'utf8')) as Record<string, unknown>;

async function found(seed = '12'): Promise<CounterexampleFile> {
  const result = await explore(engine, { seed, runs: 100, engineArgs });
  return counterexampleOf(result.violations[0]!, { engineArgs, engineLabel: `mutant:${NAME}`, command: 'explore', seed });
}

describe('the counterexample schema', () => {
  it('is a valid JSON Schema (draft-07) that ajv compiles in strict mode', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    const ajv = new Ajv({ strict: true, discriminator: true });
    expect(ajv.validateSchema(schema)).toBe(true);
    expect(() => ajv.compile(schema)).not.toThrow();
  });

  it('describes every field', () => {
    const missing: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (typeof node !== 'object' || node === null) return;
      const n = node as Record<string, unknown>;
      for (const [key, sub] of Object.entries((n.properties ?? {}) as Record<string, Record<string, unknown>>)) {
        if (typeof sub.description !== 'string' && typeof sub.$ref !== 'string') missing.push(`${path}.${key}`);
        walk(sub, `${path}.${key}`);
      }
      for (const key of ['items', 'oneOf'] as const) {
        const child = n[key];
        if (Array.isArray(child)) child.forEach((c, i) => walk(c, `${path}.${key}[${i}]`));
        else walk(child, `${path}.${key}`);
      }
      for (const [name, def] of Object.entries((n.definitions ?? {}) as Record<string, Record<string, unknown>>)) {
        if (typeof def.description !== 'string') missing.push(`definitions.${name}`);
        walk(def, `definitions.${name}`);
      }
    };
    walk(schema, '');
    expect(missing).toEqual([]);
  });

  it('is published beside the scenario schema', () => {
    expect(counterexampleSchemaPath()).toBe(join(bundledScenariosDir(), 'counterexample.schema.json'));
  });
});

describe('a counterexample file', () => {
  it('round-trips: the file parses back to the case of the violation, seed-free', async () => {
    const file = await found();
    const text = formatCounterexample(file);
    const back = parseCounterexample(text, 'x.json');
    expect(back.file).toEqual(JSON.parse(text));
    expect(back.case).toEqual(caseOf(file));
    expect(file.format).toBe('prestore-counterexample');
    expect(file.version).toBe(1);
    expect(file.rule).toBe('reads-right');
    expect(file.crash!.length).toBeGreaterThan(0);
    expect(file.foundBy?.replay).toMatch(/^prestore replay --engine mutant:clear-before-durable c1\./);
    for (const p of file.crashes) expect(p.choice).toBeDefined();
    for (const op of file.workload) if (op.op === 'powerLoss') expect(op.choice).toBeDefined();
  });

  it('replays the recorded failure against the recorded engine, and the reference passes it', async () => {
    const file = await found();
    const replayed = await replayCounterexample(engine, caseOf(file), { engineArgs });
    expect(replayed.violations[0]?.rule).toBe(file.rule);
    expect(replayed.violations[0]?.crash).toEqual(file.crash);
    expect((await replayCounterexample(referenceEngine, caseOf(file))).violations).toEqual([]);
  });

  it('does not depend on the seed: any two seeds give the same trace and verdict', async () => {
    for (const seed of ['7', '12', '24']) {
      const c = caseOf(await found(seed));
      const runs = await Promise.all(['one', 'two', ...REPLAY_SEEDS].map((s) => runCase(engine, c, { seed: s, engineArgs })));
      expect(new Set(runs.map((r) => traceDigest(r.trace))).size).toBe(1);
      expect(new Set(runs.map((r) => r.violations[0]?.rule)).size).toBe(1);
    }
  });

  it('refuses to replay a case that leaves survivors to the seed', async () => {
    const c = caseOf(await found('2'));
    // A crash with its survivors left to the seed, at the first point where the two replay seeds
    // draw differently.
    let seeded: Case | undefined;
    for (let point = 0; point < 40 && seeded === undefined; point++) {
      const candidate: Case = { ...c, crashes: [{ point, mode: 'torn' }] };
      const [a, b] = await Promise.all(REPLAY_SEEDS.map((seed) => runCase(engine, candidate, { seed })));
      if (traceDigest(a!.trace) !== traceDigest(b!.trace)) seeded = candidate;
    }
    expect(seeded).toBeDefined();
    const error = await replayCounterexample(engine, seeded!).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(/^the counterexample is not seed-free: two seeds give two runs, parting at I\/O point \d+: .* vs .*: a crash or power loss without its survivors listed fired here$/);
  });

  it('drops what never ran: unfired crash plans, power losses never reached', () => {
    const c: Case = {
      geometry: { volumeSize: 4096, sectorSize: 512, extentSectors: 2 },
      initial: { differ: 'all', delta: 'exact' },
      workload: [{ op: 'startRestore', protect: true }, { op: 'powerLoss', mode: 'drop', choice: { mode: 'drop', survivors: [] } }, { op: 'step' }, { op: 'powerLoss', mode: 'torn' }, { op: 'step' }],
      crashes: [{ point: 3, mode: 'keep', choice: { mode: 'keep', survivors: [] } }, { point: 90, mode: 'torn' }],
      eio: [],
    };
    const free = seedFreeCase(c);
    expect(free.workload).toEqual(c.workload.slice(0, 3));
    expect(free.crashes).toEqual([c.crashes[0]]);
  });

  it('has a stable name: engine, rule and a digest of the case', async () => {
    const file = await found();
    expect(counterexampleFileName(file)).toMatch(/^mutant-clear-before-durable-reads-right-[0-9a-f]{10}\.json$/);
    expect(counterexampleFileName(await found())).toBe(counterexampleFileName(file));
    expect(counterexampleFileName({ ...file, engine: { args: "--engine-cmd 'python3 my engine.py'" } })).toMatch(/^python3-my-engine-py-reads-right-/);
  });

  it('keeps short values on one line', async () => {
    const text = formatCounterexample(await found());
    expect(text).toContain('"geometry": {"volumeSize":');
    // Only a long string runs past 100 characters: a message, a crash in words, the replay line.
    expect(text.split('\n').filter((line) => line.length > 100 && !/^\s*("\w+": )?"/.test(line))).toEqual([]);
    expect(text).toMatch(/\n {4}\{"op":"startRestore","protect":(true|false)\}/);
  });
});

describe('bad counterexample files', () => {
  const good = (): Record<string, unknown> => ({
    format: 'prestore-counterexample',
    version: 1,
    engine: { args: '--engine mutant:clear-before-durable' },
    rule: 'reads-right',
    message: 'm',
    geometry: { volumeSize: 4096, sectorSize: 512, extentSectors: 2 },
    initial: { differ: [1], delta: 'exact' },
    workload: [
      { op: 'startRestore', protect: true },
      { op: 'write', volume: 'source', sector: 2, sectors: 2, pattern: 3 },
      { op: 'powerLoss', mode: 'torn', choice: { mode: 'torn', survivors: [{ point: 5, sectors: [1] }] } },
    ],
    crashes: [{ point: 9, mode: 'drop', choice: { mode: 'drop', survivors: [] } }],
    eio: [{ point: 12, sticky: false }],
  });
  // Edits reach into nested fields of the JSON freely, as a hand edit would.
  type File = ReturnType<typeof good> & Record<string, any>;

  function errorOf(edit: (f: File) => void): string {
    const f = good() as File;
    edit(f);
    try {
      parseCounterexample(JSON.stringify(f), 'regressions/bad.json');
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      return (e as Error).message;
    }
    throw new Error('the file was accepted');
  }

  it('a good one loads', () => {
    expect(parseCounterexample(JSON.stringify(good()), 'ok.json').case.workload).toHaveLength(3);
  });

  it.each<[string, (f: File) => void, string]>([
    ['not JSON', () => {}, ''],
    ['wrong format', (f) => (f.format = 'prestore-scenario'), 'regressions/bad.json: format: must be "prestore-counterexample"'],
    ['a later version', (f) => (f.version = 2), 'regressions/bad.json: version: must be 1'],
    ['no rule', (f) => delete f.rule, 'regressions/bad.json: rule: missing (required)'],
    ['an unknown rule', (f) => (f.rule = 'be-nice'), 'regressions/bad.json: rule: "be-nice" must be one of "clone-preserved"'],
    ['a crash without its survivors', (f) => delete f.crashes[0].choice, 'regressions/bad.json: crashes[0].choice: missing (required)'],
    ['a power loss without its survivors', (f) => delete f.workload[2].choice, 'regressions/bad.json: workload[2].choice: missing (required)'],
    ['a survivor sector of the wrong type', (f) => (f.workload[2].choice.survivors[0].sectors = ['1']), 'regressions/bad.json: workload[2].choice.survivors[0].sectors[0]: must be an integer, not a string ("1")'],
    ['an unknown op', (f) => (f.workload[0] = { op: 'trim' }), 'regressions/bad.json: workload[0].op: unknown op "trim"'],
    ['engine args that are not engine flags', (f) => (f.engine.args = 'reference'), 'regressions/bad.json: engine.args: "reference" must match'],
    ['an extent out of range', (f) => (f.initial.differ = [8]), 'regressions/bad.json: initial.differ[0]: extent 8 is out of range: the volume has 4 extents (0..3)'],
    ['I/O past the end', (f) => (f.workload[1].sector = 7), 'regressions/bad.json: workload[1].sectors: sectors 7..8 pass the end of the volume (8 sectors)'],
    ['two crashes at one point', (f) => f.crashes.push({ ...f.crashes[0] }), 'regressions/bad.json: crashes[1].point: 9 is also crashes[0].point'],
    ['a survivor listed twice', (f) => f.workload[2].choice.survivors.push({ point: 5 }), 'regressions/bad.json: workload[2].choice.survivors[1].point: 5 is listed twice'],
    ['a volume past the largest simulated one', (f) => (f.geometry.volumeSize = 2 ** 40), 'regressions/bad.json: geometry.volumeSize: 1099511627776 must be <= 16777216'],
    ['a step count past 1000', (f) => (f.workload[1] = { op: 'step', count: 1e9 }), 'regressions/bad.json: workload[1].count: 1000000000 must be <= 1000'],
    ['survivors in a drop crash', (f) => (f.crashes[0].choice.survivors = [{ point: 3 }]), 'regressions/bad.json: crashes[0].choice.survivors: a drop crash keeps no cached write, yet 1 is listed'],
    ['a survivor issued after its crash', (f) => (f.crashes[0] = { point: 9, mode: 'subset', choice: { mode: 'subset', survivors: [{ point: 10 }] } }), 'regressions/bad.json: crashes[0].choice.survivors[0].point: 10 comes after the crash at I/O point 9'],
    ['a keep crash keeping the write in flight', (f) => (f.crashes[0] = { point: 9, mode: 'keep', choice: { mode: 'keep', survivors: [{ point: 9 }] } }), 'crashes[0].choice.survivors[0].point: 9 is the write in flight at the crash, which a keep crash loses'],
    ['sectors in a subset crash', (f) => (f.crashes[0] = { point: 9, mode: 'subset', choice: { mode: 'subset', survivors: [{ point: 8, sectors: [0] }] } }), 'crashes[0].choice.survivors[0].sectors: a subset crash keeps whole writes'],
    ['a torn write with no sector', (f) => (f.workload[2].choice.survivors[0].sectors = []), 'regressions/bad.json: workload[2].choice.survivors[0].sectors: empty'],
    ['a choice of another mode than its crash', (f) => (f.workload[2].mode = 'drop'), 'regressions/bad.json: workload[2].choice.mode: "torn", but workload[2].mode is "drop"'],
    [
      'a survivor from before the crash before',
      (f) => f.crashes.unshift({ point: 12, mode: 'subset', choice: { mode: 'subset', survivors: [{ point: 2 }] } }),
      'regressions/bad.json: crashes[0].choice.survivors[0].point: 2 was issued before the crash at I/O point 9 (crashes[1]), which emptied every cache',
    ],
    ['images from another derivation', (f) => (f.initial.images = { source: '0123456789abcdef', clone: '0123456789abcdef' }), 'regressions/bad.json: initial.images.source: the file records 0123456789abcdef, but this harness derives'],
  ])('%s', (what, edit, message) => {
    if (what === 'not JSON') {
      expect(() => parseCounterexample('{ "format": ', 'regressions/bad.json')).toThrow('regressions/bad.json: invalid JSON at line 1, column 13');
      return;
    }
    expect(errorOf(edit)).toContain(message);
  });

  it('a scenario file is recognised and sent to exhaust', () => {
    const scenario = readFileSync(join(bundledScenariosDir(), 'protected-restore.json'), 'utf8');
    expect(() => parseCounterexample(scenario, 'scenarios/protected-restore.json')).toThrow('scenarios/protected-restore.json: this is a scenario file, not a counterexample: run it with prestore exhaust scenarios/protected-restore.json');
  });

  it('the regression files in scenarios/regressions/ are all valid', () => {
    const dir = join(bundledScenariosDir(), 'regressions');
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(() => parseCounterexample(readFileSync(join(dir, f), 'utf8'), f)).not.toThrow();
  });
});
