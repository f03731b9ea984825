/**
 * I/O errors exhausted (`exhaust --eio`), as SQLite's I/O-error tests fail the N-th I/O for every
 * N: for one scenario, an EIO at every I/O point of its recorded run, once transient and once
 * sticky (the range keeps failing reads until a write covers it), the rest of the workload run on
 * and the end rules checked. At depth 2, each such run is then crashed at every later I/O point,
 * in each cache mode (one seeded crash state per point and mode), resumed from its record.
 *
 * An engine keeps memory across an I/O error, so each error's run is a full run of the engine
 * (unlike a crash state, which a recorded run can stand in for up to the crash). What keeps the
 * count down: a sticky error whose range no read reaches before a write covers it again (and
 * every flush error, a flush having no range) leaves the run its transient twin leaves, byte for
 * byte, so it is checked once; and the crash states after an error are deduplicated within its
 * run as crash states are (same operation, same images, same medium errors left).
 */
import { type ByteRange, type CachedWrite, type CacheMode, type DeviceName, type EioFault, healed, type SurvivalChoice, type TraceEntry } from '../devices/fault-layer.js';
import { type Rng, seededRng } from '../devices/rng.js';
import type { EngineFactory } from '../engine/contract.js';
import type { CampaignOptions, CoverageRow } from './campaign.js';
import type { Case, Violation } from './case.js';
import { type CaseRun, runCase } from './run-case.js';
import { owns } from './shard.js';

/** A crash state of a recorded run, as the crash-state search lists them. */
export interface CrashStateOf {
  readonly point: number;
  readonly mode: CacheMode;
  readonly choice: SurvivalChoice;
  /** The workload operations to run: those up to the one the crash interrupts. */
  readonly ops: number;
  /** Same key, same recovery (within one run). */
  readonly key: string;
  readonly at: { readonly durable: Readonly<Record<DeviceName, Uint8Array>>; readonly pending: readonly CachedWrite[] };
}

export interface IoErrorSearch {
  /** The engine, guarded. */
  readonly engine: EngineFactory;
  readonly scenario: string;
  /** The scenario as a case: its workload as written (power losses drawn from the seed), no faults. */
  readonly base: Case;
  /** The I/O points an error is injected at: those of the scenario's recorded run, finish included. */
  readonly points: number;
  readonly depth: 1 | 2;
  readonly options: Pick<CampaignOptions, 'seed' | 'engineArgs' | 'shard' | 'rerunPrefix' | 'stopOnFirst'>;
  /** Shard units before these: the error at I/O point k (both kinds) is unit `firstUnit + k`. */
  readonly firstUnit: number;
  /** The crash states of a recorded run at each of its I/O points after `after`, one per point and mode. */
  readonly crashStatesAfter: (base: Case, run: CaseRun, after: number, rng: Rng) => Promise<readonly CrashStateOf[]>;
  /** True once the run stops (--stop-on-first after a violation found before this search). */
  readonly stop: () => boolean;
  /** Called once per I/O point done, for progress. */
  readonly onPoint: (tally: IoErrorTally) => void;
}

export interface IoErrorTally {
  cases: number;
  /** Crash states after an I/O error (depth 2), and the distinct ones among them. */
  crashStates: number;
  distinctCrashStates: number;
  /** Errors injected (two per point) and those run. */
  ioErrors: number;
  distinctIoErrors: number;
  readonly violations: Violation[];
  /** Distinct crash states after an I/O error, by cache mode. */
  readonly crashesAfter: Map<CacheMode, number>;
}

/** The I/O points of the search that are this shard's. */
export function ownedIoErrorPoints(search: Pick<IoErrorSearch, 'points' | 'firstUnit' | 'options'>): number[] {
  return Array.from({ length: search.points }, (_, k) => k).filter((k) => owns(search.options.shard, search.firstUnit + k));
}

export async function exhaustIoErrors(search: IoErrorSearch): Promise<IoErrorTally> {
  const { engine, base, depth, options } = search;
  const tally: IoErrorTally = { cases: 0, crashStates: 0, distinctCrashStates: 0, ioErrors: 0, distinctIoErrors: 0, violations: [], crashesAfter: new Map() };
  const stop = () => search.stop() || (options.stopOnFirst === true && tally.violations.length > 0);
  const runOptions = { seed: options.seed, engineArgs: options.engineArgs, ...(depth === 2 ? { recordData: true, record: true } : {}) };

  /** The error's run, and at depth 2 the crashes after it; `seen` keys the crash states of that run. */
  const check = async (fault: EioFault, run: CaseRun | undefined, seen: Set<string>): Promise<CaseRun> => {
    const c: Case = { ...base, eio: [fault] };
    if (run === undefined) {
      run = await runCase(engine, c, runOptions);
      tally.cases++;
      tally.distinctIoErrors++;
      tally.violations.push(...run.violations);
    }
    if (depth === 2 && run.violations.length === 0) await crashesAfter(c, run, fault, seen);
    return run;
  };

  const crashesAfter = async (c: Case, run: CaseRun, fault: EioFault, seen: Set<string>) => {
    const after: Case = { ...c, workload: run.resolved.workload };
    const rng = seededRng(`${options.seed}/exhaust-eio/${search.scenario}/${fault.point}/${fault.sticky ? 'sticky' : 'transient'}`);
    for (const state of await search.crashStatesAfter(after, run, fault.point, rng)) {
      if (stop()) return;
      tally.crashStates++;
      const key = `${state.key}/${mediumErrorsAt(run.trace, fault, state.point)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      tally.distinctCrashStates++;
      tally.crashesAfter.set(state.mode, (tally.crashesAfter.get(state.mode) ?? 0) + 1);
      const crashed: Case = { ...after, workload: after.workload.slice(0, state.ops), crashes: [{ point: state.point, mode: state.mode, choice: state.choice }] };
      const resume = options.rerunPrefix === true ? {} : { resume: { events: run.events, trace: run.trace, point: state.point, ...state.at } };
      const again = await runCase(engine, crashed, { seed: options.seed, engineArgs: options.engineArgs, ...resume });
      tally.cases++;
      tally.violations.push(...again.violations);
    }
  };

  for (const point of ownedIoErrorPoints(search)) {
    if (stop()) break;
    tally.ioErrors += 2;
    const seen = new Set<string>();
    const transient = await check({ point, sticky: false }, undefined, seen);
    if (!stop()) {
      // Its twin's run is this very run: it is checked once, and its crash states (where the
      // medium error is still there to tell them apart) join the same deduplication.
      const twin = stickyRunsAsTransient(transient.trace, point, transient.armedEnd);
      await check({ point, sticky: true }, twin ? transient : undefined, twin ? seen : new Set());
    }
    search.onPoint(tally);
  }
  return tally;
}

/**
 * Whether a sticky error at `point` leaves the run the transient one at `point` left (`trace`):
 * true when no read of its range follows before a write covers the range again, or before the
 * faults are disarmed for the end checks (`armedEnd`). A flush error is never sticky.
 */
export function stickyRunsAsTransient(trace: readonly TraceEntry[], point: number, armedEnd: number): boolean {
  const at = trace.find((e) => e.point === point);
  if (at === undefined || at.op === 'flush') return true;
  let errors: ByteRange[] = [{ offset: at.offset, length: at.length }];
  for (const e of trace) {
    if (e.point <= point || e.device !== at.device) continue;
    if (e.point >= armedEnd || errors.length === 0) return true;
    if (e.op === 'read' && errors.some((r) => r.offset < e.offset + e.length && e.offset < r.offset + r.length)) return false;
    if (e.op === 'write' && e.outcome === 'ok') errors = healed(errors, e.offset, e.length);
  }
  return true;
}

/**
 * What the fault layer knows at `point` of a run with `fault` that the images do not show: the
 * medium errors left (a sticky error's range, less what writes covered since) and the errors so
 * far (three in one call disarm every fault). Two crash states differing here recover differently.
 */
function mediumErrorsAt(trace: readonly TraceEntry[], fault: EioFault, point: number): string {
  let errors: ByteRange[] = [];
  let device: DeviceName | undefined;
  let faults = 0;
  for (const e of trace) {
    if (e.point >= point) break;
    if (e.outcome === 'eio') faults++;
    if (fault.sticky && e.point === fault.point && e.outcome === 'eio' && e.op !== 'flush') {
      device = e.device;
      errors = [{ offset: e.offset, length: e.length }];
    } else if (e.device === device && e.op === 'write' && e.outcome === 'ok') errors = healed(errors, e.offset, e.length);
  }
  return `${faults}:${errors.map((r) => `${device}@${r.offset}+${r.length}`).join(',')}`;
}

/** The I/O-error columns of one coverage row; the errors themselves are counted on the scenario's first. */
export function ioErrorCounts(tally: IoErrorTally, mode: CacheMode, first: boolean): Partial<CoverageRow> {
  return { ...(first ? { ioErrors: tally.ioErrors, distinctIoErrors: tally.distinctIoErrors } : {}), crashesAfterIoError: tally.crashesAfter.get(mode) ?? 0 };
}
