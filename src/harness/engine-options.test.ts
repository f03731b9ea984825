/**
 * Engine options travel with the case: a case that sets them runs the engine so tuned, its replay
 * line and counterexample file carry them, and an engine that takes none, or an option the engine
 * does not know, is refused with the field named, before anything runs.
 */
import { describe, expect, it } from 'vitest';
import type { EngineFactory } from '../engine/contract.js';
import { referenceEngine } from '../engine/reference/index.js';
import { InputError } from '../errors.js';
import { mutants } from '../mutants/catalogue.js';
import type { Case } from './case.js';
import { caseOf, counterexampleOf } from './counterexample.js';
import { decodeCase } from './replay-line.js';
import { guardEngine } from './engine-guard.js';
import { runCase } from './run-case.js';

const batchClearedEarly = mutants.find((m) => m.name === 'batch-cleared-early')!.factory;

/** Five differing extents of eight, copied in one step; a crash at every I/O point of the copy. */
function batchedCase(point: number, engineOptions?: Case['engineOptions']): Case {
  return {
    geometry: { volumeSize: 8192, sectorSize: 512, extentSectors: 2 },
    initial: { differ: [0, 2, 3, 5, 7], delta: 'exact' },
    workload: [{ op: 'startRestore', protect: true }, { op: 'step' }],
    crashes: [{ point, mode: 'drop' }],
    eio: [],
    ...(engineOptions === undefined ? {} : { engineOptions }),
  };
}

/** The first crash point at which the case breaks a rule on `engine`, with that run. */
async function firstFailure(engine: EngineFactory, options?: Case['engineOptions']) {
  for (let point = 0; point < 40; point++) {
    const run = await runCase(engine, batchedCase(point, options), { seed: 'engine-options', engineArgs: '--engine mutant:batch-cleared-early' });
    if (run.violations.length > 0) return run;
  }
  return undefined;
}

describe('engine options in a case', () => {
  it('tune the engine: a bug of the batched copier shows with copyBatch 3 and not without it', async () => {
    expect(await firstFailure(batchClearedEarly)).toBeUndefined();
    const run = await firstFailure(batchClearedEarly, { copyBatch: 3 });
    expect(run?.violations[0]?.rule).toBe('reads-right');
  });

  it('travel in the replay line and the counterexample file, so the failure replays as it was', async () => {
    const run = (await firstFailure(batchClearedEarly, { copyBatch: 3, maxIoBytes: 1024 }))!;
    const violation = run.violations[0]!;
    const token = decodeCase(violation.replay.split(' ').pop()!);
    expect(token.case.engineOptions).toEqual({ copyBatch: 3, maxIoBytes: 1024 });
    const file = counterexampleOf(violation, { engineArgs: '--engine mutant:batch-cleared-early' });
    expect(file.engineOptions).toEqual({ copyBatch: 3, maxIoBytes: 1024 });
    const again = await runCase(batchClearedEarly, caseOf(file), { seed: 'another seed' });
    expect(again.violations[0]?.rule).toBe(violation.rule);
    expect((await runCase(referenceEngine, caseOf(file), { seed: 'another seed' })).violations).toEqual([]);
  });

  it('are refused, naming the option, when the engine does not know one or a value is out of range', async () => {
    for (const [options, message] of [
      [{ copyBatches: 2 }, 'engineOptions: unknown option copyBatches'],
      [{ queueDepth: 0 }, 'engineOptions: options.queueDepth: 0 must be a whole number from 1 to 1024'],
    ] as const) {
      const error = await runCase(referenceEngine, batchedCase(1000, options), { seed: 's' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InputError);
      expect((error as Error).message).toContain(message);
    }
  });

  it('are refused for an engine that takes none, naming the engine', async () => {
    const { withOptions: _, ...untunable } = referenceEngine;
    for (const engine of [untunable, guardEngine(untunable)]) {
      const error = await runCase(engine, batchedCase(1000, { copyBatch: 2 }), { seed: 's' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InputError);
      expect((error as Error).message).toBe('engineOptions: the case sets copyBatch, but the engine reference takes no options (it has no withOptions)');
    }
  });

  it('reach the engine through the guard', async () => {
    const point = (await firstFailure(batchClearedEarly, { copyBatch: 3 }))!.violations[0]!;
    const guarded = guardEngine(batchClearedEarly);
    const failing = decodeCase(point.replay.split(' ').pop()!).case;
    expect((await runCase(guarded, failing, { seed: 's' })).violations[0]?.rule).toBe('reads-right');
    const { engineOptions: _, ...untuned } = failing;
    expect((await runCase(guarded, untuned, { seed: 's' })).violations).toEqual([]);
  });
});
