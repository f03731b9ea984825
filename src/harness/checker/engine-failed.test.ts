/**
 * An engine call that fails with no fault injected is a violation, filed under the rule whose
 * check needed the call (oracle/engine-failed.ts) and named for the call that failed: a host
 * write that fails is not a stalled restore, and a failed writeClone is no writeSource.
 */
import { describe, expect, it } from 'vitest';
import { createReferenceEngine, ReferenceEngine } from '../../engine/reference/index.js';
import type { Case, RuleName } from '../case.js';
import { runCase } from '../run-case.js';

type Method = 'writeSource' | 'writeClone' | 'readSource' | 'flushClone' | 'step' | 'inspect';

/** The reference engine, but `method` throws a plain error every time. */
function failing(method: Method) {
  class Failing extends ReferenceEngine {}
  Object.defineProperty(Failing.prototype, method, {
    value: async () => {
      throw new Error(`${method} is broken`);
    },
  });
  return createReferenceEngine({}, `fails-${method}`, Failing);
}

const fractured: Case = {
  geometry: { volumeSize: 8192, sectorSize: 512, extentSectors: 2 },
  initial: { differ: [1, 2], delta: 'exact' },
  workload: [
    { op: 'write', volume: 'clone', sector: 0, sectors: 1, pattern: 1 },
    { op: 'write', volume: 'source', sector: 6, sectors: 1, pattern: 2 },
    { op: 'read', volume: 'source', sector: 0, sectors: 4 },
    { op: 'startRestore', protect: true },
    { op: 'step', count: 2 },
  ],
  crashes: [],
  eio: [],
};

const cases: [Method, RuleName, string][] = [
  ['writeClone', 'reads-right', 'writeClone failed with no fault injected: writeClone is broken'],
  ['writeSource', 'reads-right', 'writeSource failed with no fault injected: writeSource is broken'],
  ['readSource', 'reads-right', 'readSource failed with no fault injected: readSource is broken'],
  ['inspect', 'only-differing-copied', 'inspect failed with no fault injected: inspect is broken'],
  ['step', 'progress', 'step failed with no fault injected: step is broken'],
  ['flushClone', 'restore-ends-right', 'the final flushClone failed with no fault injected: flushClone is broken'],
];

describe('an engine call that fails with no fault injected', () => {
  it.each(cases)('%s: filed under %s, naming the call', async (method, rule, message) => {
    const run = await runCase(failing(method), fractured, { seed: 'x' });
    expect(run.violations.map((v) => [v.rule, v.message])).toEqual([[rule, message]]);
  });

  it('the same case passes on the reference engine', async () => {
    expect((await runCase(createReferenceEngine(), fractured, { seed: 'x' })).violations).toEqual([]);
  });
});
