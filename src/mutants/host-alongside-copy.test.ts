/**
 * The mutants of the reference engine's concurrentHost mode: each passes the sequential harness
 * (every operation awaited before the next: the bundled scenario with `alongside` dropped, and
 * random cases likewise), and the bundled scenario `host-alongside-copy`, which issues host I/O
 * alongside copy steps, catches it, on in-order devices already. The failure survives a
 * counterexample file's round trip. The reference engine in that mode passes the scenario under
 * completion orders.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createReferenceEngine } from '../engine/reference/index.js';
import { caseArb } from '../harness/arbitraries.js';
import type { HostOp } from '../harness/case.js';
import { counterexampleOf, formatCounterexample, parseCounterexample } from '../harness/counterexample.js';
import { exhaust } from '../harness/exhaust.js';
import { bundledScenariosDir } from '../harness/package-root.js';
import { runCase } from '../harness/run-case.js';
import { loadScenario } from '../harness/scenario-file.js';
import { hostAlongsideCopyMutants } from './host-alongside-copy.js';

const scenario = await loadScenario(join(bundledScenariosDir(), 'host-alongside-copy.json'));
const { inFlight: _, ...inOrder } = scenario;
const sequential = (workload: readonly HostOp[]): HostOp[] => workload.map((op) => ('alongside' in op ? { ...op, alongside: false } : op));

describe('mutants only host I/O alongside the copier catches', () => {
  for (const m of hostAlongsideCopyMutants) {
    it(`${m.name}: passes the sequential harness, caught with host I/O alongside a step`, { timeout: 60_000 }, async () => {
      const awaited = await exhaust(m.factory, { ...inOrder, workload: sequential(inOrder.workload) }, { seed: 'alongside', crashShrinkAttempts: 0 });
      expect(awaited.violations.map((v) => v.message)).toEqual([]);
      const random = fc.sample(caseArb, { seed: 18, numRuns: 40 });
      for (const c of random) {
        const run = await runCase(m.factory, { ...c, workload: sequential(c.workload), engineOptions: { concurrentHost: 1 } }, { seed: 'alongside' });
        expect(run.violations.map((v) => v.message)).toEqual([]);
      }
      const together = await exhaust(m.factory, inOrder, { seed: 'alongside', stopOnFirst: true, crashShrinkAttempts: 0 });
      expect(together.violations.map((v) => v.rule)).toEqual([m.rule]);
      // The counterexample file keeps the operations issued together: it fails again as it did.
      const file = counterexampleOf(together.violations[0]!, { engineArgs: `--engine mutant:${m.name}`, engineLabel: `mutant:${m.name}`, command: 'exhaust', seed: 'alongside' });
      const { case: c } = parseCounterexample(formatCounterexample(file), 'cx.json');
      expect(c.workload.some((op) => 'alongside' in op && op.alongside === true)).toBe(true);
      const again = await runCase(m.factory, c, { seed: 'another seed' });
      expect(again.violations.map((v) => v.rule)).toEqual([m.rule]);
    });
  }

  it('the reference engine serving host I/O alongside the copier passes it under completion orders', { timeout: 60_000 }, async () => {
    const engine = createReferenceEngine({ concurrentHost: 1, queueDepth: 2, copyBatch: 2 }, 'reference-concurrent-host');
    const result = await exhaust(engine, { ...scenario, modes: ['torn'], inFlight: { orders: 3, maxCandidates: 3 } }, { seed: 'alongside', crashShrinkAttempts: 0 });
    expect(result.violations.map((v) => v.message)).toEqual([]);
    expect(result.coverage[0]!.completionOrders?.tried).toBe(3);
  });
});
