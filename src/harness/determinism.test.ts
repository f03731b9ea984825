/**
 * An engine that does not repeat its I/O for the same inputs is reported as such, where the
 * harness depends on repetition (replay, counterexample files, exhaust's recorded run), and never
 * as a rule violation. The proof is a tiny engine that counts its opens in a module-level
 * variable, which outlives every instance, and writes the count into its metadata.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TraceEntry } from '../devices/fault-layer.js';
import type { EngineFactory } from '../engine/contract.js';
import { referenceEngine } from '../engine/reference/index.js';
import { replayCounterexample } from './counterexample.js';
import type { Case } from './case.js';
import { assertDeterministic, NondeterministicEngineError, traceDigest, traceParting } from './determinism.js';
import { exhaust } from './exhaust.js';
import { replay } from './replay.js';
import { encodeCase } from './replay-line.js';
import { runCase } from './run-case.js';
import { bundledScenariosDir, loadScenario } from './scenario-file.js';
import { labelledSector } from './sector-data.js';

/** The reference engine, plus one sector after its metadata where it writes how often it was opened. */
function countingEngine(): EngineFactory {
  let opens = 0;
  return {
    name: 'counts-its-opens',
    metadataSize: (g) => referenceEngine.metadataSize(g) + g.sectorSize,
    format: (devices, g, delta) => referenceEngine.format(devices, g, delta),
    async open(devices, g) {
      const engine = await referenceEngine.open(devices, g);
      opens++;
      await devices.meta.write(referenceEngine.metadataSize(g), labelledSector(`opened ${opens} times`, g.sectorSize, 0), { fua: true });
      return engine;
    },
  };
}

const simple: Case = {
  geometry: { volumeSize: 8192, sectorSize: 512, extentSectors: 2 },
  initial: { differ: [1, 2], delta: 'exact' },
  workload: [{ op: 'startRestore', protect: true }, { op: 'write', volume: 'source', sector: 3, sectors: 1, pattern: 1 }, { op: 'step', count: 2 }],
  crashes: [{ point: 9, mode: 'drop', choice: { mode: 'drop', survivors: [] } }],
  eio: [],
};

const PARTING = /^the engine is not deterministic: traces part at I\/O point (\d+): first run #\1 meta write \d+\+512 fua [0-9a-f]+, second run #\1 meta write \d+\+512 fua [0-9a-f]+$/;

function entry(point: number, digest: string, op: TraceEntry['op'] = 'write'): TraceEntry {
  return { point, device: 'meta', op, offset: 0, length: 512, fua: false, digest, outcome: 'ok' };
}

describe('trace comparison', () => {
  it('finds where two traces part, or the end of the shorter one', () => {
    const a = [entry(0, 'aa', 'read'), entry(1, 'bb')];
    expect(traceParting(a, a)).toBeUndefined();
    expect(traceDigest(a)).toBe(traceDigest([...a]));
    expect(traceParting(a, [entry(0, 'aa', 'read'), entry(1, 'cc')])).toEqual({ point: 1, first: '#1 meta write 0+512 bb', second: '#1 meta write 0+512 cc' });
    expect(traceParting(a, a.slice(0, 1))).toEqual({ point: 1, first: '#1 meta write 0+512 bb', second: '(no I/O: the run had ended)' });
  });

  it('same I/O but different verdicts is nondeterminism too', () => {
    const trace = [entry(0, 'aa')];
    const v = { rule: 'reads-right' as const, message: 'sector 3', trace: [], replay: '' };
    expect(() => assertDeterministic({ trace, violations: [v] }, { trace, violations: [] })).toThrow('the same I/O gave different verdicts: first run rule reads-right: sector 3, second run every check held');
  });
});

describe('a nondeterministic engine', () => {
  it('is reported by replay, naming the I/O point where the two runs part', async () => {
    const error = await replay(countingEngine(), encodeCase(simple, 'seed')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NondeterministicEngineError);
    expect((error as Error).message).toMatch(PARTING);
  });

  it('is reported when a counterexample is replayed, not blamed on the seed', async () => {
    const error = await replayCounterexample(countingEngine(), simple).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NondeterministicEngineError);
    expect((error as Error).message).toMatch(PARTING);
  });

  it('stops exhaust before it derives crash states from a run that will not repeat', async () => {
    const scenario = await loadScenario(join(bundledScenariosDir(), 'protected-restore.json'));
    const error = await exhaust(countingEngine(), scenario, { seed: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NondeterministicEngineError);
    expect((error as Error).message).toMatch(PARTING);
  });

  it('the same engine without the counter passes all three', async () => {
    expect((await replay(referenceEngine, encodeCase(simple, 'seed'))).violations).toEqual([]);
    expect((await replayCounterexample(referenceEngine, simple)).violations).toEqual([]);
    const run = await runCase(referenceEngine, simple, { seed: 'a' });
    expect(run.violations).toEqual([]);
  });
});
