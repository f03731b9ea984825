/**
 * What concurrency costs the harness: crash states per second of `exhaust` on the bundled
 * `in-flight` scenario, measured side by side in one run:
 * - off: the reference engine one I/O at a time, on in-order devices (each crash state derived
 *   from one recorded run and resumed from it);
 * - on: the reference engine with several copy I/Os in flight (queueDepth 4, copyBatch 4), on
 *   devices that complete them out of order (the scenario's inFlight: every completion order up to
 *   its bound, each crash state run from the start);
 * - nvme: on, with the nvme-4k-atomic profile (4 KiB atomic units) chosen for the run;
 * - host off / host on: the bundled `host-alongside-copy` scenario, its operations each waiting
 *   for the one before (in-order devices, the engine's default one operation at a time) against
 *   the scenario as it is (host I/O alongside steps, concurrentHost, every completion order).
 * Median of 3 rounds each.
 */
import { join } from 'node:path';
import { presetProfile } from '../devices/device-profile.js';
import type { EngineFactory } from '../engine/contract.js';
import { createReferenceEngine, referenceEngine } from '../engine/reference/index.js';
import type { CampaignOptions } from '../harness/campaign.js';
import type { Scenario } from '../harness/case.js';
import { exhaust } from '../harness/exhaust.js';
import { bundledScenariosDir, loadScenario } from '../harness/scenario-file.js';

const ROUNDS = 3;

async function crashStatesPerSec(engine: EngineFactory, scenario: Scenario, options: Partial<CampaignOptions> = {}): Promise<{ perSec: number; crashStates: number }> {
  const rates: number[] = [];
  let crashStates = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    const result = await exhaust(engine, scenario, { seed: 'bench', crashShrinkAttempts: 0, ...options });
    if (result.violations.length > 0) throw new Error(`the reference engine failed ${scenario.name}: ${result.violations[0]!.message}`);
    crashStates = result.crashStates;
    rates.push(result.crashStates / ((performance.now() - t0) / 1000));
  }
  return { perSec: rates.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!, crashStates };
}

export async function benchConcurrency(): Promise<Record<string, number>> {
  const inFlight = await loadScenario(join(bundledScenariosDir(), 'in-flight.json'), 'in-flight');
  const { inFlight: _, ...inOrder } = inFlight;
  const concurrent = createReferenceEngine({ queueDepth: 4, copyBatch: 4 }, 'reference-concurrent');
  const off = await crashStatesPerSec(referenceEngine, inOrder);
  const on = await crashStatesPerSec(concurrent, inFlight);
  const nvme = await crashStatesPerSec(concurrent, inFlight, { profile: presetProfile('nvme-4k-atomic') });
  const alongside = await loadScenario(join(bundledScenariosDir(), 'host-alongside-copy.json'), 'host-alongside-copy');
  const { inFlight: __, engineOptions: ___, ...withGroups } = alongside;
  const sequential: Scenario = { ...withGroups, workload: alongside.workload.map((op) => ({ ...op, alongside: undefined }) as typeof op) };
  const hostOff = await crashStatesPerSec(referenceEngine, sequential);
  const hostOn = await crashStatesPerSec(referenceEngine, alongside);
  return {
    crashStatesPerSecOff: off.perSec,
    crashStatesPerSecOn: on.perSec,
    crashStatesPerSecNvme: nvme.perSec,
    slowdownOnOverOff: off.perSec / on.perSec,
    crashStatesOff: off.crashStates,
    crashStatesOn: on.crashStates,
    crashStatesNvme: nvme.crashStates,
    hostAlongsideCrashStatesPerSecOff: hostOff.perSec,
    hostAlongsideCrashStatesPerSecOn: hostOn.perSec,
    hostAlongsideSlowdownOnOverOff: hostOff.perSec / hostOn.perSec,
    hostAlongsideCrashStatesOff: hostOff.crashStates,
    hostAlongsideCrashStatesOn: hostOn.crashStates,
  };
}
