/**
 * Shrinking the crash itself: after fast-check, the crash moves to its earliest failing point and
 * keeps the fewest survivors and torn sectors, the same rule still fails, the replay line of the
 * shrunk case reproduces it, and the number of runs stays within the budget.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SurvivalChoice } from '../devices/fault-layer.js';
import type { EngineFactory, Geometry } from '../engine/contract.js';
import { referenceEngine } from '../engine/reference/index.js';
import { mutants } from '../mutants/catalogue.js';
import type { Case, HostOp, Violation } from './case.js';
import { unfitCrashes } from './case-fit.js';
import { exhaust } from './exhaust.js';
import { explore } from './explore.js';
import { decodeCase } from './replay-line.js';
import { runCase } from './run-case.js';
import { bundledScenariosDir, loadScenario } from './scenario-file.js';
import { crashesInWords, crashShrink, DEFAULT_CRASH_SHRINK_ATTEMPTS, shrinkCrash } from './shrink-crash.js';

const NAME = 'clear-before-durable';
const engine = mutants.find((m) => m.name === NAME)!.factory;
const engineArgs = `--engine mutant:${NAME}`;

/** Explore's violation as fast-check leaves it, before the crash is shrunk. */
async function unshrunk(seed: string): Promise<Violation> {
  const result = await explore(engine, { seed, runs: 100, engineArgs, crashShrinkAttempts: 0 });
  expect(result.violations).toHaveLength(1);
  return result.violations[0]!;
}

async function rule(c: Case, seed = 'any'): Promise<string | undefined> {
  return (await runCase(engine, c, { seed, engineArgs })).violations[0]?.rule;
}

function choices(c: Case): SurvivalChoice[] {
  return [...c.crashes.flatMap((p) => (p.choice === undefined ? [] : [p.choice])), ...c.workload.flatMap((op) => (op.op === 'powerLoss' && op.choice !== undefined ? [op.choice] : []))];
}

/** Surviving units: whole writes count as their sectors, so dropping a sector is progress too. */
async function survivingSectors(c: Case, seed: string): Promise<number> {
  const run = await runCase(engine, c, { seed, engineArgs });
  const length = (point: number) => (run.trace.find((e) => e.point === point && e.op === 'write')?.length ?? 0) / c.geometry.sectorSize;
  return choices(run.resolved).reduce((n, ch) => n + ch.survivors.reduce((m, s) => m + (s.sectors?.length ?? length(s.point)), 0), 0);
}

const SEEDS = ['7', '12', '24', '29'];

/** Fewer crashes, or as many with the first that differs earlier. */
function earlier(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return a.length < b.length;
  const i = a.findIndex((p, k) => p !== b[k]);
  return i >= 0 && a[i]! < b[i]!;
}

describe('shrinking the crash', () => {
  it.each(SEEDS)('seed %s: the same rule still fails, from the shrunk replay line, with no more survivors', async (seed) => {
    const found = await unshrunk(seed);
    const s = (await crashShrink(engine, found))!;
    expect(s.violation.rule).toBe(found.rule);
    expect(s.violation.crash).toEqual(s.after);
    expect(s.after.length).toBeGreaterThan(0);
    expect(s.attempts).toBeLessThanOrEqual(DEFAULT_CRASH_SHRINK_ATTEMPTS);
    const { case: shrunk, seed: lineSeed } = decodeCase(s.violation.replay.split(' ').pop()!);
    expect(s.violation.replay.startsWith(`prestore replay ${engineArgs} c1.`)).toBe(true);
    expect(await rule(shrunk, lineSeed)).toBe(found.rule);
    const before = decodeCase(found.replay.split(' ').pop()!).case;
    // Shrinking orders crashes before points before survivors: fewer survivors are promised only
    // where the crashes stayed where they were (an earlier crash may need a survivor to fail).
    const points = (c: Case) => c.crashes.map((p) => p.point).sort((a, b) => a - b);
    const [after, was] = [points(shrunk), points(before)];
    expect(after.length).toBeLessThanOrEqual(was.length);
    if (after.join() === was.join()) expect(await survivingSectors(shrunk, lineSeed)).toBeLessThanOrEqual(await survivingSectors(before, lineSeed));
    else expect(earlier(after, was)).toBe(true);
    // Every crash of the shrunk case says exactly what survived: it replays under any seed.
    expect(await rule(shrunk, 'another seed entirely')).toBe(found.rule);
  });

  it('seed 10: two torn survivors become the one write in flight, whole', async () => {
    const s = (await crashShrink(engine, await unshrunk('10')))!;
    expect(s.before).toEqual(['crash at I/O point 7: torn: writes at source@6 sectors [1] and meta@7 (in flight) sectors [0] survived']);
    expect(s.after).toEqual(['crash at I/O point 7: subset: write at meta@7 (in flight) survived, source@6 was lost']);
  });

  it.each(SEEDS)('seed %s: minimal: no single survivor and no single sector can go, and no earlier point fails', async (seed) => {
    const s = (await crashShrink(engine, await unshrunk(seed)))!;
    expect(s.attempts).toBeLessThan(DEFAULT_CRASH_SHRINK_ATTEMPTS);
    const c = s.case;
    const run = await runCase(engine, c, { seed: s.seed, engineArgs });
    const writeSectors = (point: number) => (run.trace.find((e) => e.point === point && e.op === 'write')?.length ?? 0) / c.geometry.sectorSize;
    const replaced = (from: SurvivalChoice, to: SurvivalChoice): Case => ({
      ...c,
      crashes: c.crashes.map((p) => (p.choice === from ? { ...p, choice: to } : p)),
      workload: c.workload.map((op) => (op.op === 'powerLoss' && op.choice === from ? { ...op, choice: to } : op)),
    });
    for (const ch of choices(c)) {
      for (let i = 0; i < ch.survivors.length; i++) {
        expect(await rule(replaced(ch, { ...ch, survivors: ch.survivors.filter((_, k) => k !== i) }), s.seed), `dropping survivor ${i}`).toBeUndefined();
        const all = ch.survivors[i]!.sectors ?? Array.from({ length: writeSectors(ch.survivors[i]!.point) }, (_, k) => k);
        if (all.length < 2) continue;
        for (const drop of all) {
          const survivors = ch.survivors.map((x, k) => (k === i ? { point: x.point, sectors: all.filter((y) => y !== drop) } : x));
          expect(await rule(replaced(ch, { mode: 'torn', survivors }), s.seed), `dropping sector ${drop} of survivor ${i}`).toBeUndefined();
        }
      }
    }
    if (c.crashes.length !== 1) return;
    const [plan] = c.crashes;
    for (let p = 0; p < plan!.point; p++) {
      expect(await rule({ ...c, crashes: [{ point: p, mode: 'drop', choice: { mode: 'drop', survivors: [] } }] }, s.seed), `crashing at ${p} instead`).toBeUndefined();
    }
  });

  it('moves a late crash to the earliest point that still fails', async () => {
    // Found by brute force: this workload fails when a drop crash hits any of points 12..17, and
    // at point 10 when only the write in flight there lands.
    const base: Case = {
      geometry: { volumeSize: 6656, sectorSize: 512, extentSectors: 4 },
      initial: { differ: [0], delta: 'exact' },
      workload: [
        { op: 'write', volume: 'source', sector: 3, sectors: 2, pattern: 0 },
        { op: 'startRestore', protect: false },
      ],
      crashes: [{ point: 17, mode: 'drop' }],
      eio: [],
    };
    const late = await runCase(engine, base, { seed: 'late', engineArgs });
    expect(late.violations[0]?.rule).toBe('reads-right');
    const s = (await crashShrink(engine, late.violations[0]!))!;
    expect(s.before).toEqual([expect.stringMatching(/^crash at I\/O point 17: drop: /)]);
    expect(s.case.crashes.map((p) => p.point)).toEqual([10]);
    expect(s.after).toEqual(['crash at I/O point 10: subset: write at meta@10 (in flight) survived, source@5 and source@9 were lost']);
  });

  it('tries the write in flight alone at an earlier point', async () => {
    // Fails with a drop crash at 9 or 10, and at 7 only if the metadata write in flight there lands.
    const base: Case = { geometry: { volumeSize: 9216, sectorSize: 512, extentSectors: 3 }, initial: { differ: [0], delta: 'exact' }, workload: [{ op: 'startRestore', protect: false }], crashes: [{ point: 10, mode: 'drop' }], eio: [] };
    const late = await runCase(engine, base, { seed: 'late', engineArgs });
    const s = (await crashShrink(engine, late.violations[0]!))!;
    expect(s.after).toEqual(['crash at I/O point 7: subset: write at meta@7 (in flight) survived, source@6 was lost']);
  });

  it('drops operations that change nothing: repeated writes, a power loss with nothing cached, a read', async () => {
    // The case of the test above, behind operations that play no part in the failure.
    const base: Case = { geometry: { volumeSize: 9216, sectorSize: 512, extentSectors: 3 }, initial: { differ: [0], delta: 'exact' }, workload: [{ op: 'startRestore', protect: false }], crashes: [], eio: [] };
    const write: HostOp = { op: 'write', volume: 'source', sector: 0, sectors: 1, pattern: 3 };
    const padded: Case = { ...base, workload: [write, write, write, write, { op: 'powerLoss', mode: 'drop' }, { op: 'read', volume: 'source', sector: 0, sectors: 2 }, ...base.workload] };
    // The crash at the tenth I/O point of the restore's start, as in the test above.
    const [plain, long] = [await runCase(engine, base, { seed: 's', engineArgs }), await runCase(engine, padded, { seed: 's', engineArgs })];
    const point = long.opStarts[6]! + 10 - plain.opStarts[0]!;
    const late = await runCase(engine, { ...padded, crashes: [{ point, mode: 'drop' }] }, { seed: 's', engineArgs });
    expect(late.violations[0]?.rule).toBe('reads-right');
    const s = (await crashShrink(engine, late.violations[0]!))!;
    expect(s.case.workload).toEqual([{ op: 'startRestore', protect: false }]);
    expect(s.after).toEqual(['crash at I/O point 7: subset: write at meta@7 (in flight) survived, source@6 was lost']);
  });

  it('spends no more runs than its budget', async () => {
    const found = await unshrunk('12');
    for (const maxAttempts of [1, 2, 5, 10]) {
      const s = (await crashShrink(engine, found, { maxAttempts }))!;
      expect(s.attempts).toBeLessThanOrEqual(maxAttempts);
      expect(await rule(s.case, s.seed)).toBe(found.rule);
    }
  });

  it('with a budget of 0 describes the crash as found and changes nothing', async () => {
    const found = await unshrunk('7');
    const s = (await crashShrink(engine, found, { maxAttempts: 0 }))!;
    expect(s.shrunk).toBe(false);
    expect(s.violation).toEqual({ ...found, crash: s.before });
  });

  it('leaves a violation it cannot replay as it was', async () => {
    const v: Violation = { rule: 'reads-right', message: 'm', trace: [], replay: 'prestore replay --engine x c1.DAMAGED' };
    expect(await shrinkCrash(engine, v)).toBe(v);
  });

  it('explore reports its violation shrunk, with the crash in words', async () => {
    const result = await explore(engine, { seed: '7', runs: 100, engineArgs });
    expect(result.violations[0]!.crash).toEqual(['crash at I/O point 7: subset: write at meta@7 (in flight) survived, source@6 was lost']);
  });

  it('exhaust shrinks the first violation of each rule, and leaves the rest as found', { timeout: 60_000 }, async () => {
    const scenario = await loadScenario(join(bundledScenariosDir(), 'protected-restore.json'));
    const result = await exhaust(engine, scenario, { seed: 'shrink', engineArgs });
    expect(result.violations.length).toBeGreaterThan(1);
    const seen = new Set<string>();
    for (const v of result.violations) {
      expect(v.crash !== undefined, `${v.rule}: shrunk only if first of its rule`).toBe(!seen.has(v.rule));
      if (!seen.has(v.rule)) {
        const { case: c, seed } = decodeCase(v.replay.split(' ').pop()!);
        expect(await rule(c, seed)).toBe(v.rule);
      }
      seen.add(v.rule);
    }
  });

  it('moving one crash earlier can leave another that no longer fires: the shrunk case lists only crashes that fire', async () => {
    // Breaks when opened mid-restore a second time (two crashes while copying), or after a crash
    // inside a host write, which it brackets with a marker: crashes at A and B while copying fail
    // together, neither alone; moving A into the host write fails at once, before B is reached.
    const tail = (g: Geometry) => referenceEngine.metadataSize(g);
    const twice: EngineFactory = {
      name: 'fails-after-two-crashes',
      metadataSize: (g) => referenceEngine.metadataSize(g) + 2 * g.sectorSize,
      format: (devices, g, delta) => referenceEngine.format(devices, g, delta),
      async open(devices, g) {
        const engine = await referenceEngine.open(devices, g);
        const state = await devices.meta.read(tail(g), 2 * g.sectorSize);
        const restoring = state[0]! + ((await engine.status()).state === 'restoring' ? 1 : 0);
        await devices.meta.write(tail(g), new Uint8Array(g.sectorSize).fill(restoring), { fua: true });
        const broken = restoring >= 2 || state[g.sectorSize] === 1;
        const marker = (value: number) => devices.meta.write(tail(g) + g.sectorSize, new Uint8Array(g.sectorSize).fill(value), { fua: true });
        return new Proxy(engine, {
          get(target, key) {
            if (key === 'readSource' && broken) return async (_: number, length: number) => new Uint8Array(length).fill(0xee);
            if (key === 'writeSource') return async (offset: number, data: Uint8Array) => (await marker(1), await target.writeSource(offset, data), await marker(0));
            const value: unknown = Reflect.get(target, key);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        });
      },
    };
    const base: Case = { geometry: { volumeSize: 4096, sectorSize: 512, extentSectors: 2 }, initial: { differ: 'all', delta: 'exact' }, workload: [{ op: 'write', volume: 'source', sector: 0, sectors: 1, pattern: 1 }, { op: 'startRestore', protect: true }, { op: 'step' }, { op: 'step' }, { op: 'step' }], crashes: [], eio: [] };
    const copying = (await runCase(twice, base, { seed: 's' })).opStarts[2]!;
    const a = { point: copying + 1, mode: 'drop' as const };
    const b = { point: (await runCase(twice, { ...base, crashes: [a] }, { seed: 's' })).opStarts[4]!, mode: 'drop' as const };
    const found = (await runCase(twice, { ...base, crashes: [a, b] }, { seed: 's', engineArgs: '--engine x' })).violations[0]!;
    expect(found.rule).toBe('reads-right');
    const shrunk = (await crashShrink(twice, found))!;
    expect(shrunk.shrunk).toBe(true);
    const { case: c, seed } = decodeCase(shrunk.violation.replay.split(' ').pop()!);
    const run = await runCase(twice, c, { seed });
    expect(run.violations[0]?.rule).toBe('reads-right');
    expect(Math.min(...c.crashes.map((p) => p.point))).toBeLessThan(copying);
    expect(unfitCrashes(c, run)).toEqual([]);
  });

  it('tells crashes in words from a transcript', () => {
    expect(crashesInWords(['host: write', 'POWER LOSS at I/O point 4: drop: meta@3 was lost', 'POWER LOSS: keep: write at source@9 survived'])).toEqual([
      'crash at I/O point 4: drop: meta@3 was lost',
      'power loss between operations: keep: write at source@9 survived',
    ]);
  });
});
