/**
 * A crash inside recovery is one more crash state, recovered from once: the engine is opened once
 * per power loss, and never while another instance is still open.
 */
import { describe, expect, it } from 'vitest';
import type { EngineFactory } from '../../engine/contract.js';
import { createReferenceEngine } from '../../engine/reference/index.js';
import type { Case } from '../case.js';
import { runCase } from '../run-case.js';

/** The reference engine, counting open calls and the instances open at once. */
function counted() {
  const inner = createReferenceEngine();
  const counts = { opens: 0, open: 0, mostOpen: 0, crashedOpens: 0 };
  const factory: EngineFactory = {
    ...inner,
    async open(devices, geometry) {
      counts.opens++;
      const engine = await inner.open(devices, geometry).catch((e: unknown) => {
        counts.crashedOpens++;
        throw e;
      });
      counts.mostOpen = Math.max(counts.mostOpen, ++counts.open);
      const dispose = engine.dispose?.bind(engine);
      engine.dispose = async () => {
        counts.open--;
        await dispose?.();
      };
      return engine;
    },
  };
  return { factory, counts };
}

const restore = (crashes: Case['crashes']): Case => ({
  geometry: { volumeSize: 4096, sectorSize: 512, extentSectors: 2 },
  initial: { differ: [1, 2], delta: 'exact' },
  workload: [
    { op: 'startRestore', protect: true },
    { op: 'write', volume: 'source', sector: 4, sectors: 1, pattern: 1 },
    { op: 'step' },
  ],
  crashes,
  eio: [],
  finish: false,
});

describe('a crash during recovery', () => {
  it('opens the engine once per power loss, with one instance open at a time', async () => {
    const first = 6;
    const once = await runCase(createReferenceEngine(), restore([{ point: first, mode: 'drop' }]), { seed: 'recovery' });
    expect(once.crashStates).toBe(1);
    let crashedInRecovery = 0;
    // Every I/O point of the first recovery and what follows it: some of them fall inside `open`.
    for (let second = first + 1; second < once.ioPoints; second++) {
      const { factory, counts } = counted();
      const run = await runCase(factory, restore([{ point: first, mode: 'drop' }, { point: second, mode: 'drop' }]), { seed: 'recovery' });
      expect(run.violations).toEqual([]);
      expect(run.crashStates).toBe(2);
      expect(counts.opens).toBe(1 + run.crashStates);
      expect(counts.mostOpen).toBe(1);
      crashedInRecovery += counts.crashedOpens;
    }
    expect(crashedInRecovery).toBeGreaterThan(0);
  });
});
