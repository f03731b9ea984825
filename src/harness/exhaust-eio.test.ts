/**
 * `exhaust --eio`: an I/O error at every I/O point finds what crashes alone cannot (an engine that
 * trusts memory over a write that failed), checks a sticky error once when it runs as its
 * transient twin (and only then), resumes crash states after an error exactly as re-running them
 * does, medium errors included, and splits among shards into exactly the whole run.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { referenceEngine } from '../engine/reference/index.js';
import { ioErrorMutants } from '../mutants/io-errors.js';
import { mergeCoverageRows } from './campaign.js';
import type { Case, Scenario } from './case.js';
import { exhaust } from './exhaust.js';
import { stickyRunsAsTransient } from './exhaust-eio.js';
import { RecordedDevices, type TraceEntry } from '../devices/fault-layer.js';
import { formattedDevices } from './checker/set-up.js';
import { replay } from './replay.js';
import { runCase } from './run-case.js';
import { bundledScenariosDir, loadScenario } from './scenario-file.js';

const bitBeforeWrite = ioErrorMutants.find((m) => m.name === 'bit-before-write')!.factory;
const engineArgs = '--engine mutant:bit-before-write';
const bundled = (name: string) => loadScenario(join(bundledScenariosDir(), `${name}.json`), name);
const asCase = (s: Scenario): Case => ({ geometry: s.geometry, initial: s.initial, workload: s.workload, crashes: [], eio: [] });

describe('exhaust --eio', () => {
  it('kills bit-before-write, which every crash state leaves standing, and its replay line fails again', { timeout: 60_000 }, async () => {
    const scenario = await bundled('write-retry-after-error');
    const crashesOnly = await exhaust(bitBeforeWrite, scenario, { seed: 'eio', engineArgs, crashShrinkAttempts: 0 });
    expect(crashesOnly.violations).toEqual([]);
    expect(crashesOnly.distinctCrashStates).toBeGreaterThan(0);
    const withErrors = await exhaust(bitBeforeWrite, scenario, { seed: 'eio', engineArgs, eio: true, crashShrinkAttempts: 0 });
    expect(withErrors.violations.length).toBeGreaterThan(0);
    const row = withErrors.coverage[0]!;
    expect(row.ioErrors).toBe(2 * row.ioPoints);
    expect(row.distinctIoErrors).toBeGreaterThan(row.ioPoints);
    expect(row.distinctIoErrors).toBeLessThan(row.ioErrors!);
    for (const v of withErrors.violations) {
      expect(v.replay.startsWith(`prestore replay ${engineArgs} c1.`)).toBe(true);
      const again = await replay(bitBeforeWrite, v.replay, { engineArgs });
      expect(again.violations.map((x) => [x.rule, x.message])).toEqual([[v.rule, v.message]]);
      expect(again.transcript.some((line) => / EIO$/.test(line))).toBe(true);
      expect((await replay(referenceEngine, v.replay)).violations).toEqual([]);
    }
  });

  it('injects its errors on devices that complete operations in flight too, under each completion order, and the replay line fails again', { timeout: 60_000 }, async () => {
    const scenario: Scenario = { ...(await bundled('write-retry-after-error')), inFlight: { orders: 4, maxCandidates: 2 } };
    const withErrors = await exhaust(bitBeforeWrite, scenario, { seed: 'eio', engineArgs, eio: true, ioErrorsOnly: true, crashShrinkAttempts: 0 });
    expect(withErrors.crashStates).toBe(0);
    expect(withErrors.violations.length).toBeGreaterThan(0);
    const row = withErrors.coverage[0]!;
    expect(row.completionOrders?.tried).toBeGreaterThan(0);
    expect(row.ioErrors).toBe(2 * row.ioPoints * row.completionOrders!.tried);
    const v = withErrors.violations[0]!;
    expect(v.replay).toMatch(/^prestore replay --engine mutant:bit-before-write c1\./);
    expect((await replay(bitBeforeWrite, v.replay, { engineArgs })).violations.map((x) => x.rule)).toEqual([v.rule]);
    expect((await replay(referenceEngine, v.replay)).violations).toEqual([]);
    expect((await exhaust(referenceEngine, scenario, { seed: 'eio', eio: true })).violations).toEqual([]);
  });

  it('holds for the reference engine on a scenario that revisits extents after an error, with a crash after each error (depth 2)', { timeout: 120_000 }, async () => {
    for (const name of ['write-after-copy-error']) {
      const result = await exhaust(referenceEngine, await bundled(name), { seed: 'eio', eio: true, ioErrorsOnly: true, depth: 2, modes: ['drop'] });
      expect(result.violations.map((v) => v.message)).toEqual([]);
      expect(result.coverage.every((r) => (r.crashesAfterIoError ?? 0) > 0)).toBe(true);
    }
  });

  it('a sticky error deemed its transient twin runs byte for byte as that twin; the others do not', { timeout: 60_000 }, async () => {
    const scenario = await bundled('write-retry-after-error');
    const base = asCase(scenario);
    const recorded = await runCase(referenceEngine, base, { seed: 'twins' });
    let twins = 0;
    let apart = 0;
    for (let point = 0; point < recorded.armedEnd; point++) {
      const transient = await runCase(referenceEngine, { ...base, eio: [{ point, sticky: false }] }, { seed: 'twins' });
      const sticky = await runCase(referenceEngine, { ...base, eio: [{ point, sticky: true }] }, { seed: 'twins' });
      const same = JSON.stringify(sticky.trace) === JSON.stringify(transient.trace);
      if (stickyRunsAsTransient(transient.trace, point, transient.armedEnd)) {
        expect(same, `I/O point ${point}`).toBe(true);
        twins++;
      } else {
        expect(same, `I/O point ${point}`).toBe(false);
        apart++;
      }
    }
    expect(twins).toBeGreaterThan(0);
    expect(apart).toBeGreaterThan(0);
  });

  it('resumes a crash after a sticky error with the medium error still there, as re-running does', { timeout: 60_000 }, async () => {
    // A sticky error on a map write, a crash after it, and a recovery that reads the map: the read
    // must fail resumed as it fails re-run, or depth 2 would check another run than it names.
    const base: Case = {
      geometry: { volumeSize: 4096, sectorSize: 512, extentSectors: 2 },
      initial: { differ: [1, 2], delta: 'exact' },
      workload: [{ op: 'startRestore', protect: true }, { op: 'write', volume: 'source', sector: 2, sectors: 1, pattern: 1 }, { op: 'step', count: 2 }],
      crashes: [],
      eio: [],
    };
    const recorded = await runCase(referenceEngine, base, { seed: 'medium' });
    let compared = 0;
    let mediumErrorsAfterCrash = 0;
    for (const { point } of recorded.trace.filter((e) => e.device === 'meta' && e.op === 'write' && e.point < recorded.armedEnd)) {
      const faulted: Case = { ...base, eio: [{ point, sticky: true }] };
      const run = await runCase(referenceEngine, faulted, { seed: 'medium', recordData: true, record: true });
      const devices = new RecordedDevices(await formattedDevices(referenceEngine, faulted));
      let next = 0;
      for (let crash = point + 1; crash < run.armedEnd; crash++) {
        while (next < run.trace.length && run.trace[next]!.point < crash) await devices.play(run.trace[next++]!);
        const entry = run.trace[next];
        const at = devices.crashAt(entry?.point === crash ? entry : undefined);
        const ops = Math.min(run.opStarts.filter((start) => start <= crash).length, faulted.workload.length);
        const crashed: Case = { ...faulted, workload: faulted.workload.slice(0, ops), crashes: [{ point: crash, mode: 'drop', choice: { mode: 'drop', survivors: [] } }] };
        const resumed = await runCase(referenceEngine, crashed, { seed: 'medium', resume: { events: run.events, trace: run.trace, point: crash, ...at } });
        const rerun = await runCase(referenceEngine, crashed, { seed: 'medium' });
        // The replayed prefix carries the recorded bytes of its writes; the I/O is what must agree.
        const io = (trace: readonly TraceEntry[]) => JSON.stringify(trace.map(({ data: _, ...e }) => e));
        expect(io(resumed.trace), `sticky error at ${point}, crash at ${crash}`).toBe(io(rerun.trace));
        compared++;
        if (rerun.trace.some((e) => e.point > crash && e.outcome === 'eio')) mediumErrorsAfterCrash++;
      }
    }
    expect(compared).toBeGreaterThan(0);
    // The comparison means something only where a medium error outlived the crash.
    expect(mediumErrorsAfterCrash).toBeGreaterThan(0);
  });
});

describe('exhaust --eio in shards', () => {
  it('adds up to the whole run: cases, crash states, I/O errors, coverage and violations', { timeout: 120_000 }, async () => {
    const scenario = await bundled('write-retry-after-error');
    for (const factory of [referenceEngine, bitBeforeWrite]) {
      const options = { seed: 'shards', eio: true, crashShrinkAttempts: 0 } as const;
      const whole = await exhaust(factory, scenario, options);
      const parts = await Promise.all([1, 2, 3].map((index) => exhaust(factory, scenario, { ...options, shard: { index, count: 3 } })));
      const sum = (f: (r: typeof whole) => number) => parts.reduce((t, r) => t + f(r), 0);
      expect(sum((r) => r.cases)).toBe(whole.cases);
      expect(sum((r) => r.crashStates)).toBe(whole.crashStates);
      expect(sum((r) => r.distinctCrashStates)).toBe(whole.distinctCrashStates);
      expect(parts.flatMap((r) => r.violations.map((v) => v.replay)).sort()).toEqual(whole.violations.map((v) => v.replay).sort());
      expect(parts.every((r) => (r.coverage[0]!.distinctIoErrors ?? 0) > 0)).toBe(true);
      expect(whole.coverage.map((row) => parts.map((p) => p.coverage.find((r) => r.mode === row.mode)!).reduce(mergeCoverageRows))).toEqual(whole.coverage);
      if (factory === bitBeforeWrite) expect(whole.violations.length).toBeGreaterThan(1);
    }
  });

  it('refuses ioErrorsOnly without eio, naming it', async () => {
    const scenario = await bundled('nearly-equal');
    await expect(exhaust(referenceEngine, scenario, { seed: 's', ioErrorsOnly: true })).rejects.toThrow(/options\.ioErrorsOnly/);
  });
});
