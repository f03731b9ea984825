/**
 * The picture's data is rebuilt from a run's trace and transcript, so it is checked against what
 * the harness itself said: for many drawn cases (crashes in every mode, power losses between
 * operations, I/O errors, crashes in recovery) the writes the picture says were cached at each
 * crash must be the ones the fault layer had, as its own words in the transcript tell.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CachedWrite as LayerWrite, describeSurvival, type SurvivalChoice } from '../devices/fault-layer.js';
import { referenceEngine } from '../engine/reference/index.js';
import { caseArb } from '../harness/arbitraries.js';
import type { Case } from '../harness/case.js';
import { runCase } from '../harness/run-case.js';
import { mutants } from '../mutants/catalogue.js';
import { type Crash, fromRun, fromText, notesOf, stepsOf } from './timeline-data.js';

/** The choices of a resolved case, in the order its crashes happen in `crashes`. */
function choicesOf(resolved: Case, crashes: readonly Crash[]): SurvivalChoice[] {
  const losses = resolved.workload.flatMap((op) => (op.op === 'powerLoss' && op.choice !== undefined ? [op.choice] : []));
  return crashes.map((c) => (c.point === undefined ? losses.shift()! : resolved.crashes.find((p) => p.point === c.point)!.choice!));
}

/** The picture's cached writes as the fault layer holds them, for its own `describeSurvival`. */
function asLayerWrites(crash: Crash): LayerWrite[] {
  return crash.cached.map((w) => ({ device: w.device, point: w.point, offset: w.sector * 512, data: new Uint8Array(w.sectors * 512), fua: false, inFlight: w.inFlight }));
}

describe('the crashes of a picture', () => {
  it('has at each crash exactly the cached writes the fault layer had, and what survived of each', { timeout: 60_000 }, async () => {
    const engines = [referenceEngine, mutants.find((m) => m.name === 'ack-before-intent')!.factory, mutants.find((m) => m.name === 'clear-before-durable')!.factory];
    let crashes = 0;
    let torn = 0;
    let between = 0;
    for (const c of fc.sample(caseArb, { seed: 23, numRuns: 40 })) {
      for (const engine of engines) {
        const run = await runCase(engine, c, { seed: 'picture', transcript: true });
        const t = fromRun(run);
        const said = run.transcript.filter((l) => l.startsWith('POWER LOSS')).map((l) => l.replace(/^POWER LOSS( at I\/O point \d+)?: /, ''));
        expect(t.crashes.length, run.transcript.join('\n')).toBe(said.length);
        choicesOf(run.resolved, t.crashes).forEach((choice, i) => {
          const crash = t.crashes[i]!;
          expect(describeSurvival(asLayerWrites(crash), choice), `crash ${i} of\n${run.transcript.join('\n')}`).toBe(said[i]);
          for (const w of crash.cached) {
            const listed = choice.survivors.find((s) => s.point === w.point);
            const all = Array.from({ length: w.sectors }, (_, s) => s);
            expect(w.survived).toEqual(listed === undefined ? [] : (listed.sectors ?? all));
            if (w.survived.length > 0 && w.survived.length < w.sectors) torn++;
          }
          crashes++;
          if (crash.point === undefined) between++;
        });
      }
    }
    // The comparison covered what it is meant to: many crashes, torn writes, losses between operations.
    expect(crashes).toBeGreaterThan(50);
    expect(torn).toBeGreaterThan(0);
    expect(between).toBeGreaterThan(0);
  });

  it('puts every I/O of the run on the timeline, at its device, with its sectors', async () => {
    const [c] = fc.sample(caseArb, { seed: 5, numRuns: 1 });
    const run = await runCase(referenceEngine, c!, { seed: 'picture', transcript: true });
    const t = fromRun(run);
    expect(t.ios.map((io) => io.point)).toEqual(run.trace.map((e) => e.point));
    expect(t.ios.map((io) => `${io.device} ${io.op} ${io.sector * 512}+${io.sectors * 512}`)).toEqual(run.trace.map((e) => `${e.device} ${e.op} ${e.op === 'flush' ? 0 : e.offset}+${e.length}`));
    expect(t.end).toBe(run.trace[run.trace.length - 1]!.point + 1);
  });
});

describe("the harness's steps", () => {
  const transcript = [
    'open the engine',
    '  #0 meta read 0+1024 aa',
    'host: write source sectors 0..0 (w1)',
    '  #1 source write 0+512 bb',
    '  #2 meta write 0+512 cc CRASH',
    'POWER LOSS at I/O point 2: drop: source@1 was lost',
    'recovery: open the engine on the surviving images',
    '  #3 meta read 0+1024 aa',
    'the interrupted startRestore took effect',
    '  #4 source read 0+4096 dd',
    'engine: step',
    '  #5 clone read 0+1024 ee',
    'engine: step',
    '  #6 source write 0+1024 ee',
    'check: final flush, then the end rules',
  ];

  it('places each note at the I/O point that follows it, and at the end when none does', () => {
    expect(notesOf(transcript, 7).map((n) => n.point)).toEqual([0, 1, 3, 3, 4, 5, 6, 7]);
  });

  it('runs each step to the next that begins something; events end nothing; steps in a row are one', () => {
    const steps = stepsOf(notesOf(transcript, 7), 7);
    expect(steps.map((s) => `${s.kind} ${s.from}-${s.to}${s.count > 1 ? ` x${s.count}` : ''}`)).toEqual(['open 0-1', 'host 1-3', 'power 3-3', 'recovery 3-5', 'event 4-4', 'step 5-7 x2', 'check 7-7']);
  });

  it('ends a recovery in the run to completion where the engine steps again', { timeout: 30_000 }, async () => {
    // A crash after the workload, while the harness runs the restore to completion: the steps
    // after the recovery are noted, so the recovery does not run on to the final check.
    const c: Case = {
      geometry: { volumeSize: 4096, sectorSize: 512, extentSectors: 2 },
      initial: { differ: 'all', delta: 'exact' },
      workload: [{ op: 'startRestore', protect: true }],
      crashes: [],
      eio: [],
    };
    const clean = await runCase(referenceEngine, c, { seed: 'picture' });
    const finish = clean.opStarts[c.workload.length]!;
    const point = clean.trace.find((e) => e.point > finish && e.op === 'write')!.point;
    const run = await runCase(referenceEngine, { ...c, crashes: [{ point, mode: 'drop' }] }, { seed: 'picture', transcript: true });
    const steps = fromRun(run).steps;
    const recovery = steps.find((s) => s.kind === 'recovery')!;
    const next = steps.find((s) => s.from >= recovery.to && s.kind !== 'event')!;
    expect(next.kind).toBe('step');
    expect(steps.some((s) => s.kind === 'check' && s.from > recovery.to)).toBe(true);
  });
});

describe('a picture from a result file', () => {
  it('draws the trace lines it kept, the crash among them and the writes its case names as survivors', () => {
    const c: Case = {
      geometry: { volumeSize: 8192, sectorSize: 512, extentSectors: 2 },
      initial: { differ: 'all', delta: 'exact' },
      workload: [],
      crashes: [{ point: 11, mode: 'subset', choice: { mode: 'subset', survivors: [{ point: 11 }] } }],
      eio: [],
    };
    const t = fromText(['#9 clone read 1024+1024 25f9fcf4', '#10 source write 1024+1024 25f9fcf4', '#11 meta write 1024+512 fua df93c59d CRASH', '#12 meta flush', 'not a trace line'], c, 'the engine is not here');
    expect(t.ios.map((io) => `${io.point} ${io.device} ${io.op} ${io.sector}+${io.sectors}${io.fua ? ' fua' : ''} ${io.outcome}`)).toEqual(['9 clone read 2+2 ok', '10 source write 2+2 ok', '11 meta write 2+1 fua crash', '12 meta flush 0+0 ok']);
    expect(t.crashes).toEqual([{ point: 11, at: 11, mode: 'subset', cached: [{ device: 'meta', point: 11, sector: 2, sectors: 1, inFlight: true, survived: [0] }] }]);
    expect(t.sectors).toEqual({ source: 16, clone: 16, meta: 3 });
    expect(t.partial).toBe('the engine is not here');
  });
});
