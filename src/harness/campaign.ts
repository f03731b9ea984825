/**
 * The harness's public face for the command line: a campaign runs many cases against one engine
 * and sums up what it found. `explore` draws cases with fast-check, `exhaust` crashes one
 * scenario at every I/O point, `replay` re-runs one case from its replay line. Each lives in its
 * own module, which imports the types here.
 */
import { type DeviceProfile, parseDeviceProfile } from '../devices/device-profile.js';
import { CACHE_MODES, type CacheMode } from '../devices/fault-layer.js';
import { InputError, knownOptions, wholeOption } from '../errors.js';
import { RULES, type RuleName, type Violation } from './case.js';
import type { GuardOptions } from './engine-guard.js';
import type { Shard } from './shard.js';

export interface Progress {
  readonly done: number;
  readonly total: number;
  readonly crashStates: number;
  readonly violations: number;
}

/** How many cases explore draws when the caller does not say. */
export const DEFAULT_RUNS = 100;

/** Every campaign runs its engine through the guard (./engine-guard.ts): `callTimeoutMs` bounds each call. */
export interface CampaignOptions extends GuardOptions {
  readonly seed: string;
  /**
   * How the replay line names the engine, e.g. `--engine ./my-engine.js`. Without it the line
   * says the engine is unnamed (`--engine from-code:NAME`), which `prestore replay` refuses.
   */
  readonly engineArgs?: string;
  /** explore: how many cases fast-check draws (default `DEFAULT_RUNS`, 100). */
  readonly runs?: number;
  /** exhaust: override the scenario's depth. */
  readonly depth?: 1 | 2;
  /** exhaust: override the scenario's cache modes. */
  readonly modes?: readonly CacheMode[];
  /**
   * exhaust: also an I/O error at every I/O point, once transient and once sticky, the rest of
   * the workload run on and the end rules checked; at depth 2, then a crash at every later point.
   */
  readonly eio?: boolean;
  /** exhaust with `eio`: the I/O errors only, no crash state (a hunt has checked those already). */
  readonly ioErrorsOnly?: boolean;
  /**
   * exhaust: run the engine from the start up to every crash state (the naive way, quadratic in
   * the workload), instead of resuming from the one recorded run. For comparison and checking.
   */
  readonly rerunPrefix?: boolean;
  /** explore: start at this run (a fast-check replay path), to shrink a failure a worker found. */
  readonly fromRun?: number;
  /** Run only this shard of the cases (./shard.ts); the shards of one run add up to it. */
  readonly shard?: Shard;
  /** Stop at the first violation (explore shrinks it first). */
  readonly stopOnFirst?: boolean;
  /** Runs spent shrinking each reported crash (./shrink-crash.ts); 0 reports crashes as found. */
  readonly crashShrinkAttempts?: number;
  readonly onProgress?: (progress: Progress) => void;
  /** The devices every case runs on (src/devices/device-profile.ts); exhaust: overrides the scenario's. Absent: the default device. */
  readonly profile?: DeviceProfile;
}

/** One row of the coverage report: what one scenario and cache mode explored. */
export interface CoverageRow {
  readonly scenario: string;
  readonly mode: CacheMode;
  readonly ioPoints: number;
  readonly crashStates: number;
  readonly distinctCrashStates: number;
  /** Crash points whose every survival subset was enumerated, vs sampled. */
  readonly enumeratedPoints: number;
  readonly sampledPoints: number;
  /** Second crashes checked during recoveries (depth 2). */
  readonly secondCrashStates: number;
  /** The same counts I/O point by I/O point (absent from results written before they were kept). */
  readonly points?: PointCoverage;
  /** A scenario with operations in flight (./exhaust-in-flight.ts): completion orders tried, and whether those were all. */
  readonly completionOrders?: { readonly tried: number; readonly all: boolean };
  /**
   * With --eio, on the scenario's first row only (an I/O error has no cache mode): the I/O errors
   * injected, two per I/O point (transient and sticky), and those run: a sticky error whose range
   * no read reaches before a write covers it runs as its transient twin, and is checked once.
   */
  readonly ioErrors?: number;
  readonly distinctIoErrors?: number;
  /** With --eio at depth 2: the distinct crash states of this mode checked after an I/O error. */
  readonly crashesAfterIoError?: number;
}

/** Coverage of one scenario and cache mode per I/O point: each array is indexed by the point. */
export interface PointCoverage {
  /** Crash states at the point, and how many of them were checked (the others recover as one checked). */
  readonly crashStates: readonly number[];
  readonly distinct: readonly number[];
  /** Violations found by crashing at the point (before shrinking moved any of them). */
  readonly violations: readonly number[];
  /** 1 where the point had too many survival subsets to enumerate and a seeded sample was checked. */
  readonly sampled: readonly number[];
}

const IO_ERROR_COUNTS = ['ioErrors', 'distinctIoErrors', 'crashesAfterIoError'] as const;

/**
 * Two coverage rows of one scenario and mode from the shards of one run, as one run counts them:
 * each shard checks its own crash states, while every shard knows which points were sampled.
 */
export function mergeCoverageRows(a: CoverageRow, b: CoverageRow): CoverageRow {
  const add = (x: readonly number[], y: readonly number[]) => x.map((v, i) => v + (y[i] ?? 0));
  const points =
    a.points === undefined || b.points === undefined
      ? undefined
      : { crashStates: add(a.points.crashStates, b.points.crashStates), distinct: add(a.points.distinct, b.points.distinct), violations: add(a.points.violations, b.points.violations), sampled: a.points.sampled.map((v, i) => Math.max(v, b.points!.sampled[i] ?? 0)) };
  const { points: _, ...row } = a;
  const eio = Object.fromEntries(IO_ERROR_COUNTS.flatMap((k) => (a[k] === undefined && b[k] === undefined ? [] : [[k, (a[k] ?? 0) + (b[k] ?? 0)]])));
  return {
    ...row,
    crashStates: a.crashStates + b.crashStates,
    distinctCrashStates: a.distinctCrashStates + b.distinctCrashStates,
    secondCrashStates: a.secondCrashStates + b.secondCrashStates,
    ...(points === undefined ? {} : { points }),
    ...eio,
  };
}

export interface CampaignResult {
  /** The engine factory's name. */
  readonly engine: string;
  readonly seed: string;
  /**
   * Cases run to find what was found, shrinking left out. explore: the random cases drawn and run
   * (all `runs` of them when every check held; up to and including the first failing one when
   * not, since exploring stops there). exhaust: the scenario's recorded run, one per distinct
   * crash state, and at depth 2 one per second crash.
   */
  readonly cases: number;
  /** Crash-and-recover cycles checked in those cases (shrinking left out, as for `cases`). */
  readonly crashStates: number;
  /**
   * exhaust only: the crash states left once those with byte-identical images inside one host
   * operation are counted once. explore checks every crash state it draws, and has none.
   */
  readonly distinctCrashStates?: number;
  readonly violations: readonly Violation[];
  readonly violationsByRule: Readonly<Record<RuleName, number>>;
  readonly coverage: readonly CoverageRow[];
}

/** What `exhaust` finds: a campaign that counts its distinct crash states. */
export interface ExhaustResult extends CampaignResult {
  readonly distinctCrashStates: number;
}

/** Violations counted per rule, every rule present. */
export function countByRule(violations: readonly Violation[]): Record<RuleName, number> {
  const counts = Object.fromEntries(Object.values(RULES).map((r) => [r, 0])) as Record<RuleName, number>;
  for (const v of violations) counts[v.rule]++;
  return counts;
}

const OPTION_NAMES: readonly (keyof CampaignOptions)[] = [
  'seed', 'engineArgs', 'runs', 'depth', 'modes', 'eio', 'ioErrorsOnly', 'rerunPrefix', 'fromRun', 'shard', 'stopOnFirst', 'crashShrinkAttempts', 'onProgress', 'callTimeoutMs', 'callMonitor', 'profile',
];

/**
 * Campaign options given from code, checked before anything runs, each wrong one named: a run of
 * `runs: 0` would be a green verdict on nothing, a misspelt option silently the default.
 * (`callTimeoutMs` is the guard's to check.)
 */
export function checkCampaignOptions(where: string, options: CampaignOptions): void {
  if (typeof options !== 'object' || options === null) throw new InputError(`${where}: options must be an object, with at least the seed`);
  knownOptions(where, options, OPTION_NAMES);
  const o = options as { readonly [K in keyof CampaignOptions]?: unknown };
  const wrong = (name: string, what: string) => new InputError(`${where}: options.${name} must be ${what}`);
  if (typeof o.seed !== 'string') throw wrong('seed', 'a string');
  if (o.engineArgs !== undefined && typeof o.engineArgs !== 'string') throw wrong('engineArgs', 'a string (the flags that name the engine, e.g. --engine ./my-engine.js)');
  if (o.runs !== undefined) wholeOption(`${where}: options.runs`, o.runs, 1, 10_000_000);
  if (o.depth !== undefined && o.depth !== 1 && o.depth !== 2) throw wrong('depth', '1 or 2');
  if (o.modes !== undefined && (!Array.isArray(o.modes) || o.modes.length === 0 || !o.modes.every((m) => CACHE_MODES.includes(m as CacheMode)))) throw wrong('modes', `a non-empty array of ${CACHE_MODES.join(', ')}`);
  if (o.fromRun !== undefined) wholeOption(`${where}: options.fromRun`, o.fromRun, 0, 10_000_000);
  if (o.crashShrinkAttempts !== undefined) wholeOption(`${where}: options.crashShrinkAttempts`, o.crashShrinkAttempts, 0, 1_000_000);
  for (const flag of ['rerunPrefix', 'stopOnFirst', 'eio', 'ioErrorsOnly'] as const) if (o[flag] !== undefined && typeof o[flag] !== 'boolean') throw wrong(flag, 'true or false');
  if (o.ioErrorsOnly === true && o.eio !== true) throw wrong('ioErrorsOnly', 'left out without eio: true (it keeps the I/O errors and leaves out the crash states)');
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw wrong('onProgress', 'a function');
  if (o.profile !== undefined) parseDeviceProfile(o.profile, `${where}: options.profile`);
  if (o.shard !== undefined) {
    const s = o.shard as Partial<Shard> | null;
    const count = wholeOption(`${where}: options.shard.count`, s?.count, 1, 1_000_000);
    wholeOption(`${where}: options.shard.index`, s?.index, 1, count);
  }
}
