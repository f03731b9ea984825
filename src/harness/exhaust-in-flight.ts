/**
 * `exhaust` for a scenario whose devices complete operations out of issue order (`inFlight`):
 * every completion order of the workload, depth first from in issue order, up to the scenario's
 * bound (`OrderSearch`), and under each order a crash at every I/O point in each cache mode.
 *
 * Where operations overlap, the devices at a crash depend on the order, so a crash state cannot
 * be derived from one recorded run as `exhaust` does in order: each is run from the start, its
 * order scripted, so the run up to the crash is the order's own. What survives each crash is one
 * seeded draw per point, order and mode (`drop` and `keep` have only one); a second crash (depth
 * 2) is not tried. With `eio`, each order's run also gets an I/O error at each of its I/O points,
 * transient and sticky, as in order (`exhaust-eio.ts`; depth 1: no crash after the error). The
 * coverage rows say how many orders were tried and whether that was all.
 */
import { type CacheMode } from '../devices/fault-layer.js';
import { OrderSearch } from '../devices/completion-order.js';
import type { EngineFactory } from '../engine/contract.js';
import type { CampaignOptions, CoverageRow, ExhaustResult } from './campaign.js';
import { countByRule } from './campaign.js';
import type { Case, InFlightExploration, Scenario, Violation } from './case.js';
import { exhaustIoErrors, type IoErrorTally, ioErrorCounts } from './exhaust-eio.js';
import { runCase } from './run-case.js';
import { owns, ownsShared } from './shard.js';
import { scenarioCase } from './scenario-case.js';
import { shrinkFirstOfEachRule } from './shrink-crash.js';

/** What a scenario without `inFlight` explores when its device profile completes out of order. */
export const DEFAULT_IN_FLIGHT_EXPLORATION: InFlightExploration = { orders: 16, maxCandidates: 4 };

export async function exhaustInFlight(engine: EngineFactory, scenario: Scenario, inFlight: InFlightExploration, modes: readonly CacheMode[], options: CampaignOptions, inCrashOrder: (v: readonly Violation[]) => Violation[]): Promise<ExhaustResult> {
  const base = scenarioCase(scenario, engine);
  const runOptions = { seed: options.seed, engineArgs: options.engineArgs };
  const search = new OrderSearch(inFlight.orders, inFlight.maxCandidates);
  const violations: Violation[] = [];
  const rows = new Map(modes.map((m) => [m, { crashStates: 0, ioPoints: 0 }]));
  let cases = 0;
  let crashStates = 0;
  let unit = 0;
  const stop = () => options.stopOnFirst === true && violations.length > 0;
  const ioErrors: IoErrorTally = { cases: 0, crashStates: 0, distinctCrashStates: 0, ioErrors: 0, distinctIoErrors: 0, violations: [], crashesAfter: new Map() };
  for (let order = search.next(); order !== undefined && !stop(); order = search.next()) {
    const script: Case = { ...base, inFlight: { order } };
    const recorded = await runCase(engine, script, runOptions);
    search.ran(recorded.decisions ?? []);
    if (ownsShared(options.shard)) {
      cases++;
      violations.push(...recorded.violations);
    }
    // Power losses the workload asks for keep the survivors the recorded run drew.
    const workload = recorded.resolved.workload;
    for (let point = 0; point < recorded.armedEnd && !stop() && options.ioErrorsOnly !== true; point++) {
      const ops = recorded.opStarts.filter((start) => start <= point).length;
      for (const mode of modes) {
        if (!owns(options.shard, unit++) || stop()) continue;
        const row = rows.get(mode)!;
        row.crashStates++;
        crashStates++;
        const run = await runCase(engine, { ...script, workload: workload.slice(0, Math.min(ops, workload.length)), crashes: [{ point, mode }] }, runOptions);
        cases++;
        violations.push(...run.violations);
        options.onProgress?.({ done: crashStates, total: crashStates, crashStates, violations: violations.length });
      }
    }
    for (const row of rows.values()) row.ioPoints = Math.max(row.ioPoints, recorded.armedEnd);
    if (options.eio === true && !stop()) {
      const tally = await exhaustIoErrors({
        engine,
        scenario: scenario.name,
        base: script,
        points: recorded.armedEnd,
        depth: 1,
        options,
        firstUnit: unit,
        crashStatesAfter: noCrashAfterIoError,
        stop,
        onPoint: () => options.onProgress?.({ done: crashStates, total: crashStates, crashStates, violations: violations.length }),
      });
      unit += recorded.armedEnd;
      cases += tally.cases;
      violations.push(...tally.violations);
      ioErrors.ioErrors += tally.ioErrors;
      ioErrors.distinctIoErrors += tally.distinctIoErrors;
    }
  }
  const shrunk = await shrinkFirstOfEachRule(engine, inCrashOrder(violations), { maxAttempts: options.crashShrinkAttempts });
  const coverage: CoverageRow[] = modes.map((mode) => {
    const row = rows.get(mode)!;
    return {
      scenario: scenario.name,
      mode,
      ioPoints: row.ioPoints,
      crashStates: row.crashStates,
      distinctCrashStates: row.crashStates,
      enumeratedPoints: 0,
      sampledPoints: row.ioPoints,
      secondCrashStates: 0,
      completionOrders: { tried: search.tried, all: !search.truncated },
      ...(options.eio === true ? ioErrorCounts(ioErrors, mode, mode === modes[0]) : {}),
    };
  });
  return { engine: engine.name, seed: options.seed, cases, crashStates, distinctCrashStates: crashStates, violations: shrunk, violationsByRule: countByRule(shrunk), coverage };
}

/** Depth 1 under operations in flight: the I/O-error search never asks for the crashes after an error. */
async function noCrashAfterIoError(): Promise<never> {
  throw new Error('exhaust with operations in flight crashes no run after an I/O error (depth 1)');
}
