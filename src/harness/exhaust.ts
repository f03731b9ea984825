/**
 * Systematic exploration of one scenario: a crash at every I/O point of its workload (and of the
 * copier's run to completion), in each cache mode; every subset of the cached writes where there
 * are few (`DEFAULT_ENUMERATION`), a seeded sample beyond. Depth 2 adds a second crash at every
 * I/O point of each first crash's recovery, one seeded crash state per point and mode.
 *
 * Linear cost: the scenario runs once with every write and every engine call's outcome recorded.
 * Each crash state's devices (durable images, cached writes) are derived from that record, and the
 * checker is resumed from it: the prefix is replayed from the record without the engine and
 * without device I/O, and only the recovery and what follows it run live. Two crash states with
 * byte-identical images inside the same host operation recover identically, so each such class
 * is checked once (`distinctCrashStates`).
 *
 * With `eio`, the same scenario then gets an I/O error at every I/O point (./exhaust-eio.ts).
 */
import { type CachedWrite, type CacheMode, type DeviceName, DEFAULT_ENUMERATION, type EnumerationOptions, enumerateCrashStates, RecordedDevices, type SurvivalChoice } from '../devices/fault-layer.js';
import { seededRng } from '../devices/rng.js';
import type { EngineFactory } from '../engine/contract.js';
import { type CampaignOptions, checkCampaignOptions, type CoverageRow, countByRule, type ExhaustResult } from './campaign.js';
import type { Case, Scenario, Violation } from './case.js';
import { assertDeterministic } from './determinism.js';
import { formattedDevices } from './checker/set-up.js';
import { guardEngine } from './engine-guard.js';
import { imageKey } from './image-key.js';
import { exhaustIoErrors, type IoErrorTally, ioErrorCounts, ownedIoErrorPoints } from './exhaust-eio.js';
import { engineForCase } from './engine-options.js';
import { type CaseRun, runCase } from './run-case.js';
import { scenarioCase as caseOfScenario } from './scenario-case.js';
import { shrinkFirstOfEachRule } from './shrink-crash.js';
import { DEFAULT_IN_FLIGHT_EXPLORATION, exhaustInFlight } from './exhaust-in-flight.js';
import { owns, ownsShared } from './shard.js';
import { Lanes } from './lanes.js';

/** One crash state to check: the crash point, its cache mode and exactly what survived. */
interface CrashState {
  readonly point: number;
  readonly mode: CacheMode;
  readonly choice: SurvivalChoice;
  /** The workload operations to run: those up to the one the crash interrupts. */
  readonly ops: number;
  /** Same key, same recovery: the interrupted operation and a hash of the surviving images. */
  readonly key: string;
  /** The devices at the crash, before survivors are chosen. */
  readonly at: DevicesAt;
}

interface DevicesAt {
  readonly durable: Record<DeviceName, Uint8Array>;
  readonly pending: readonly CachedWrite[];
}

export async function exhaust(untrusted: EngineFactory, scenario: Scenario, options: CampaignOptions): Promise<ExhaustResult> {
  checkCampaignOptions('exhaust', options);
  const engine = guardEngine(untrusted, options);
  const modes = options.modes ?? scenario.modes;
  const depth = options.depth ?? scenario.depth;
  const profile = options.profile ?? scenario.profile;
  const inFlight = scenario.inFlight ?? (profile?.inFlight === true ? DEFAULT_IN_FLIGHT_EXPLORATION : undefined);
  if (inFlight !== undefined) return exhaustInFlight(engine, { ...scenario, profile }, inFlight, modes, options, inCrashOrder);
  const scenarioCase = caseOfScenario({ ...scenario, profile }, untrusted);
  const runOptions = { seed: options.seed, engineArgs: options.engineArgs };
  const recorded = await runCase(engine, scenarioCase, { ...runOptions, recordData: true, record: true });
  // Every crash state below is derived from this one record: it must be what the engine always does.
  assertDeterministic(recorded, await runCase(engine, scenarioCase, runOptions));
  // Power losses the workload itself asks for keep the survivors the recorded run drew.
  const base: Case = { ...scenarioCase, workload: recorded.resolved.workload };
  const from = (state: CrashState) =>
    options.rerunPrefix === true ? {} : { resume: { events: recorded.events, trace: recorded.trace, point: state.point, ...state.at } };
  const violations: Violation[] = ownsShared(options.shard) ? [...recorded.violations] : [];
  const rng = seededRng(`${options.seed}/exhaust/${scenario.name}`);
  const { states, sampled } = await crashStatesOf(engine, base, recorded, modes, rng);

  const zeros = () => new Array<number>(recorded.armedEnd).fill(0);
  const rows = new Map(modes.map((m) => [m, { crashStates: 0, distinct: 0, second: 0, at: { crashStates: zeros(), distinct: zeros(), violations: zeros() } }]));
  const seen = new Set<string>();
  // Shards split the distinct crash states, in order of first appearance; the dedup stays global.
  const distinctIndex = new Map<string, number>();
  for (const state of states) if (!distinctIndex.has(state.key)) distinctIndex.set(state.key, distinctIndex.size);
  const mine = options.ioErrorsOnly === true ? [] : states.filter((state) => owns(options.shard, distinctIndex.get(state.key)!));
  let cases = ownsShared(options.shard) ? 1 : 0;
  let crashStates = 0;
  let distinctCrashStates = 0;
  let done = 0;
  const stop = () => options.stopOnFirst === true && violations.length > 0;
  // --eio: the I/O errors are units of the run after the distinct crash states, point by point.
  const ioErrorSearch = { scenario: scenario.name, points: recorded.armedEnd, depth, options, firstUnit: distinctIndex.size };
  const total = mine.length + (options.eio === true ? ownedIoErrorPoints(ioErrorSearch).length : 0);
  /** One distinct crash state's run and, at depth 2, those of the second crashes after it. */
  const checkCrashState = async (lane: EngineFactory, state: CrashState) => {
    const c: Case = { ...base, workload: base.workload.slice(0, state.ops), crashes: [{ point: state.point, mode: state.mode, choice: state.choice }] };
    const run = await runCase(lane, c, { ...runOptions, ...from(state) });
    const seconds: CaseRun[] = [];
    if (depth === 2 && run.violations.length === 0) {
      for (const second of secondCrashes(c, run, modes)) {
        // This state runs only while none is found, so the stop is this state's own second crash.
        if (options.stopOnFirst === true && seconds.some((again) => again.violations.length > 0)) break;
        seconds.push(await runCase(lane, second, { ...runOptions, ...from(state) }));
      }
    }
    return { run, seconds };
  };
  // An engine that serves several instances at once checks several distinct states at once (./lanes.ts).
  const firsts = new Set<string>();
  const lanes = new Lanes(engine.lanes?.() ?? [engine], mine.filter((state) => !firsts.has(state.key) && Boolean(firsts.add(state.key))), checkCrashState);
  try {
    for (const state of mine) {
      if (stop()) break;
      const row = rows.get(state.mode)!;
      crashStates++;
      row.crashStates++;
      row.at.crashStates[state.point]!++;
      options.onProgress?.({ done: ++done, total, crashStates, violations: violations.length });
      if (seen.has(state.key)) continue;
      seen.add(state.key);
      distinctCrashStates++;
      row.distinct++;
      row.at.distinct[state.point]!++;
      const { run, seconds } = await lanes.take(distinctCrashStates - 1);
      cases++;
      violations.push(...run.violations);
      row.at.violations[state.point]! += run.violations.length;
      for (const again of seconds) {
        cases++;
        crashStates += again.crashStates - 1;
        rows.get(again.resolved.crashes[1]!.mode)!.second++;
        violations.push(...again.violations);
        // A second crash's violation is counted where the first crash put the run.
        row.at.violations[state.point]! += again.violations.length;
      }
    }
  } finally {
    await lanes.settle();
  }
  let ioErrors: IoErrorTally | undefined;
  if (options.eio === true && !stop()) {
    ioErrors = await exhaustIoErrors({
      ...ioErrorSearch,
      engine,
      base: scenarioCase,
      crashStatesAfter: async (after, run, point, eioRng) => (await crashStatesOf(engine, after, run, modes, eioRng, { after: point, enumeration: ONE_PER_MODE })).states,
      stop,
      onPoint: (tally) => options.onProgress?.({ done: ++done, total, crashStates: crashStates + tally.crashStates, violations: violations.length + tally.violations.length }),
    });
    cases += ioErrors.cases;
    crashStates += ioErrors.crashStates;
    distinctCrashStates += ioErrors.distinctCrashStates;
    violations.push(...ioErrors.violations);
  }
  violations.splice(0, violations.length, ...(await shrinkFirstOfEachRule(engine, inCrashOrder(violations), { maxAttempts: options.crashShrinkAttempts })));
  const coverage: CoverageRow[] = modes.map((mode) => {
    const row = rows.get(mode)!;
    const sampledAt = sampled.get(mode)!;
    const sampledPoints = sampledAt.reduce((t, s) => t + s, 0);
    return {
      scenario: scenario.name,
      mode,
      ioPoints: recorded.armedEnd,
      crashStates: row.crashStates,
      distinctCrashStates: row.distinct,
      enumeratedPoints: recorded.armedEnd - sampledPoints,
      sampledPoints,
      secondCrashStates: row.second,
      points: { ...row.at, sampled: sampledAt },
      ...(ioErrors === undefined ? {} : ioErrorCounts(ioErrors, mode, mode === modes[0])),
    };
  });
  return { engine: engine.name, seed: options.seed, cases, crashStates, distinctCrashStates, violations, violationsByRule: countByRule(violations), coverage };
}

/** After an I/O error (depth 2): one crash state per I/O point and mode, seeded where there are several. */
const ONE_PER_MODE: EnumerationOptions = { exhaustiveUpTo: 0, sampleSize: 1 };

/**
 * Walks the recorded trace once, playing its I/O onto the devices as the fault layer did, and
 * lists the crash states of every armed I/O point in every mode (with `only`, of the points after
 * `only.after`, enumerated as it says).
 */
async function crashStatesOf(engine: EngineFactory, base: Case, recorded: CaseRun, modes: readonly CacheMode[], rng: ReturnType<typeof seededRng>, only?: { readonly after: number; readonly enumeration: EnumerationOptions }) {
  const devices = new RecordedDevices(await formattedDevices(engineForCase(engine, base), base), base.profile);
  const sectorSize = base.geometry.sectorSize;
  const states: CrashState[] = [];
  // Per mode and I/O point: 1 where the survival subsets were too many and a sample was drawn.
  const sampled = new Map(modes.map((m) => [m, new Array<number>(recorded.armedEnd).fill(0)]));
  const trace = recorded.trace;
  // Power losses the workload asks for happen between I/Os, where their operation begins.
  const losses = base.workload.flatMap((op, i) => (op.op === 'powerLoss' && op.choice !== undefined ? [{ at: recorded.opStarts[i]!, choice: op.choice }] : []));
  let next = 0;
  const playUpTo = async (point: number) => {
    while (next < trace.length && trace[next]!.point < point) await devices.play(trace[next++]!);
  };
  for (let point = 0; point < recorded.armedEnd; point++) {
    while (losses.length > 0 && losses[0]!.at <= point) {
      const loss = losses.shift()!;
      await playUpTo(loss.at);
      await devices.powerLoss(loss.choice);
    }
    await playUpTo(point);
    if (only !== undefined && point <= only.after) continue;
    const entry = trace[next];
    const at: DevicesAt = devices.crashAt(entry?.point === point ? entry : undefined);
    const ops = recorded.opStarts.filter((start) => start <= point).length;
    for (const mode of modes) {
      const { choices, exhaustive } = enumerateCrashStates(at.pending, mode, sectorSize, rng, only?.enumeration ?? DEFAULT_ENUMERATION, base.profile?.atomicWriteBytes);
      if (!exhaustive) sampled.get(mode)![point] = 1;
      for (const choice of choices) states.push({ point, mode, choice, ops: Math.min(ops, base.workload.length), key: `${ops}:${imageKey(at.durable, at.pending, choice, sectorSize)}`, at });
    }
  }
  return { states, sampled };
}

/**
 * Depth 2: a second crash at every armed I/O point after the first, in each mode; the fault layer
 * draws its survivors from the run's seed, and the replay line records the ones drawn.
 */
function secondCrashes(c: Case, run: CaseRun, modes: readonly CacheMode[]): Case[] {
  const first = c.crashes[0]!;
  const cases: Case[] = [];
  for (let point = first.point + 1; point < run.armedEnd; point++) {
    for (const mode of modes) cases.push({ ...c, crashes: [first, { point, mode }] });
  }
  return cases;
}

/**
 * Violations in one fixed order (by replay line, which names the case exactly), so that shards
 * and workers merged give the list one run gives, and shrink the same ones.
 */
export function inCrashOrder(violations: readonly Violation[]): Violation[] {
  return [...violations].sort((a, b) => (a.replay < b.replay ? -1 : a.replay > b.replay ? 1 : 0));
}
