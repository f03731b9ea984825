/**
 * The reordering mutants: each passes the harness on devices that complete in issue order, and
 * the `in-flight` scenario, whose devices complete in every order they could, catches it. The
 * reference engine, one I/O at a time or several in flight, passes it.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createReferenceEngine, referenceEngine } from '../engine/reference/index.js';
import { exhaust } from '../harness/exhaust.js';
import { bundledScenariosDir } from '../harness/package-root.js';
import { decodeCase } from '../harness/replay-line.js';
import { runCase } from '../harness/run-case.js';
import { loadScenario } from '../harness/scenario-file.js';
import { reorderingMutants } from './reordering.js';

const scenario = await loadScenario(join(bundledScenariosDir(), 'in-flight.json'));
const { inFlight: _, ...inOrder } = scenario;
/** Several copy I/Os in flight: one extent an I/O, four at a time. */
const concurrent = createReferenceEngine({ copyBatch: 4, queueDepth: 4, maxIoBytes: 512 }, 'reference-concurrent');

describe('mutants only a reordering catches', () => {
  for (const m of reorderingMutants) {
    it(`${m.name}: passes in issue order, caught with operations in flight`, { timeout: 60_000 }, async () => {
      const ordered = await exhaust(m.factory, inOrder, { seed: 'reorder', crashShrinkAttempts: 0 });
      expect(ordered.violations.map((v) => v.message)).toEqual([]);
      const reordered = await exhaust(m.factory, scenario, { seed: 'reorder', stopOnFirst: true, crashShrinkAttempts: 0 });
      expect(reordered.violations.length).toBeGreaterThan(0);
      // The line carries the completion order the devices took: it replays without the seed.
      const { case: c } = decodeCase(reordered.violations[0]!.replay.split(' ').pop()!);
      expect(c.inFlight?.order?.length).toBeGreaterThan(0);
      const again = await runCase(m.factory, c, { seed: 'another seed' });
      expect(again.violations.map((v) => v.rule)).toEqual([reordered.violations[0]!.rule]);
    });
  }

  for (const engine of [referenceEngine, concurrent]) {
    it(`${engine.name} passes every completion order tried`, { timeout: 60_000 }, async () => {
      // Four orders keep this quick; `prestore exhaust scenarios/in-flight.json` tries the file's twelve.
      const result = await exhaust(engine, { ...scenario, inFlight: { orders: 4, maxCandidates: 4 } }, { seed: 'reorder', crashShrinkAttempts: 0 });
      expect(result.violations.map((v) => v.message)).toEqual([]);
      // One I/O at a time has one order; several in flight have more than the bound.
      expect(result.coverage[0]!.completionOrders).toEqual(engine === concurrent ? { tried: 4, all: false } : { tried: 1, all: true });
    });
  }
});
