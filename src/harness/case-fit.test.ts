/**
 * Whether the crashes a case lists fit the run it got: a case as the harness found it fits its
 * engine's run; each kind of misfit is named with its field; and `fitted` takes the misfits out
 * without changing the run by a single I/O.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { referenceEngine } from '../engine/reference/index.js';
import { mutants } from '../mutants/catalogue.js';
import type { Case } from './case.js';
import { fitted, unfitCrashes } from './case-fit.js';
import { traceDigest } from './determinism.js';
import { decodeCase } from './replay-line.js';
import { runCase } from './run-case.js';
import { bundledScenariosDir } from './scenario-file.js';

const regression = JSON.parse(readFileSync(join(bundledScenariosDir(), 'regressions', 'mutant-clear-before-durable-reads-right-7435f9d304.json'), 'utf8')) as { foundBy: { replay: string } };
const found = decodeCase(regression.foundBy.replay.split(' ').pop()!);
const mutant = mutants.find((m) => m.name === 'clear-before-durable')!.factory;

/** A fractured pair restored with a host write of two sectors and two copy steps. */
const plain: Case = {
  geometry: { volumeSize: 4096, sectorSize: 512, extentSectors: 2 },
  initial: { differ: [1, 2], delta: 'exact' },
  workload: [{ op: 'startRestore', protect: true }, { op: 'write', volume: 'source', sector: 0, sectors: 2, pattern: 1 }, { op: 'step' }, { op: 'step' }],
  crashes: [],
  eio: [],
};

async function misfits(engine: typeof referenceEngine, c: Case): Promise<{ unfit: string[]; same: boolean }> {
  const run = await runCase(engine, c, { seed: 's' });
  const unfit = unfitCrashes(c, run);
  const again = await runCase(engine, fitted(c, run), { seed: 's' });
  // Taking the misfits out changes nothing the engine does, and leaves none.
  expect(unfitCrashes(fitted(c, run), again)).toEqual([]);
  return { unfit, same: traceDigest(again.trace) === traceDigest(run.trace) };
}

describe('the fit of listed crashes to a run', () => {
  it('a case as the harness found it fits its engine', async () => {
    expect(await misfits(mutant, found.case)).toEqual({ unfit: [], same: true });
  });

  it('names each survivor that names nothing, and each sector past the end of its write', async () => {
    const trace = (await runCase(referenceEngine, plain, { seed: 's' })).trace;
    const read = trace.find((e) => e.op === 'read')!;
    const fua = trace.find((e) => e.op === 'write' && e.fua)!;
    const cached = trace.find((e) => e.op === 'write' && !e.fua && e.length === 1024)!;
    const crash = Math.max(read.point, fua.point, cached.point) + 1;
    const c: Case = {
      ...plain,
      crashes: [{ point: crash, mode: 'torn', choice: { mode: 'torn', survivors: [{ point: read.point }, { point: fua.point }, { point: cached.point, sectors: [1, 2] }] } }],
    };
    const { unfit, same } = await misfits(referenceEngine, c);
    expect(unfit).toEqual([
      `crashes[0].choice.survivors[0].point: I/O point ${read.point} is a ${read.device} read, not a write`,
      `crashes[0].choice.survivors[1].point: the write at I/O point ${fua.point} was a FUA write: durable, so never listed among the survivors`,
      `crashes[0].choice.survivors[2].sectors[1]: 2 is past the end of the write at I/O point ${cached.point} (2 sectors)`,
    ]);
    expect(same).toBe(true);
  });

  it('names a crash that never fired, and a write that failed', async () => {
    const trace = (await runCase(referenceEngine, plain, { seed: 's' })).trace;
    const cached = trace.find((e) => e.op === 'write' && !e.fua)!;
    const c: Case = {
      ...plain,
      eio: [{ point: cached.point, sticky: false }],
      crashes: [
        { point: cached.point + 1, mode: 'subset', choice: { mode: 'subset', survivors: [{ point: cached.point }] } },
        { point: 1_000_000, mode: 'drop', choice: { mode: 'drop', survivors: [] } },
      ],
    };
    const { unfit, same } = await misfits(referenceEngine, c);
    expect(unfit[0]).toMatch(/^crashes\[1\]\.point: the crash at I\/O point 1000000 never happened \(the run had I\/O points 0\.\.\d+\)$/);
    expect(unfit[1]).toBe(`crashes[0].choice.survivors[0].point: the write at I/O point ${cached.point} failed with an I/O error: nothing of it was cached`);
    expect(unfit).toHaveLength(2);
    expect(same).toBe(true);
  });

  it('names a power loss whose survivors an earlier crash emptied, and one never reached', async () => {
    const trace = (await runCase(referenceEngine, plain, { seed: 's' })).trace;
    const cached = trace.find((e) => e.op === 'write' && !e.fua)!;
    const emptied: Case = {
      ...plain,
      workload: [...plain.workload, { op: 'powerLoss', mode: 'subset', choice: { mode: 'subset', survivors: [{ point: cached.point }] } }],
      crashes: [{ point: cached.point + 1, mode: 'drop', choice: { mode: 'drop', survivors: [] } }],
    };
    const first = await misfits(referenceEngine, emptied);
    expect(first.unfit).toEqual([`workload[4].choice.survivors[0].point: ${cached.point} was issued before an earlier crash or power loss, which emptied every cache before the power loss of workload[4]`]);
    expect(first.same).toBe(true);

    // This mutant breaks a rule at the host read of an extent not yet copied: nothing after it runs.
    const readsFromSource = mutants.find((m) => m.name === 'reads-from-source')!.factory;
    const unreached: Case = { ...plain, workload: [{ op: 'startRestore', protect: true }, { op: 'read', volume: 'source', sector: 0, sectors: 8 }, { op: 'powerLoss', mode: 'drop', choice: { mode: 'drop', survivors: [] } }] };
    const second = await misfits(readsFromSource, unreached);
    expect(second.unfit).toEqual(['workload[2]: the power loss was never reached: the run stopped before it']);
    expect(second.same).toBe(true);
  });
});
