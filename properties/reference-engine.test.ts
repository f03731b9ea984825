/**
 * The reference engine against the whole oracle: fast-check draws cases (geometry with short last
 * extents and one-sector extents, divergence, host I/O on both volumes, protected and unprotected
 * restores, steps, crashes at random I/O points in every cache mode, EIO transient and sticky,
 * crashes during recovery, several crashes in one run; engine options: batched copier, copy I/Os
 * coalesced up to sizes from one sector to several extents, several in flight; maps of several
 * sectors) and every rule must hold.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { referenceEngine } from '../src/engine/reference/index.js';
import { tunedCaseArb } from '../src/harness/arbitraries.js';
import { explore, numericSeed } from '../src/harness/explore.js';
import { runCase } from '../src/harness/run-case.js';
import { RUNS, SEED } from './settings.js';

describe('the reference engine under the oracle', () => {
  it(`holds every rule over ${RUNS} random cases`, async () => {
    const result = await explore(referenceEngine, { seed: SEED, runs: RUNS });
    expect(result.violations.map((v) => `${v.rule}: ${v.message}\n${v.replay}`)).toEqual([]);
    expect(result.cases).toBe(RUNS);
    expect(result.crashStates).toBeGreaterThan(RUNS / 2);
  });

  it('gives the same trace and result for the same case and seed, byte for byte', async () => {
    await fc.assert(
      fc.asyncProperty(tunedCaseArb, async (c) => {
        const a = await runCase(referenceEngine, c, { seed: 'same', transcript: true });
        const b = await runCase(referenceEngine, c, { seed: 'same', transcript: true });
        expect(JSON.stringify(b.trace)).toBe(JSON.stringify(a.trace));
        expect(b.transcript).toEqual(a.transcript);
        expect(JSON.stringify(b.resolved)).toBe(JSON.stringify(a.resolved));
      }),
      { seed: numericSeed(SEED), numRuns: Math.max(5, Math.floor(RUNS / 4)) },
    );
  });
});
