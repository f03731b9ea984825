/**
 * A case: everything one run of the harness needs, as plain data. Explorers generate cases,
 * scenario files describe them, counterexample files store them, and one replay line carries one.
 * The same case, engine and seed give the same trace, byte for byte.
 */
import type { DeviceProfile } from '../devices/device-profile.js';
import type { CacheMode, EioFault, InFlightOptions, SurvivalChoice } from '../devices/fault-layer.js';
import type { EngineOptions, Geometry } from '../engine/contract.js';
import type { Finding } from './oracle/finding.js';

export type Volume = 'source' | 'clone';

/**
 * `alongside: true` on a read, write, flush or step: issued without waiting for the operation
 * before it, when that one is a read, write, flush or step too. A run of such operations is
 * issued together, as a host with a queue does, and judged together (./checker/together.ts).
 */
interface Alongside {
  readonly alongside?: boolean;
}

/** A host operation. Offsets and lengths are in sectors; written data comes from `pattern`. */
export type HostOp =
  | ({ readonly op: 'write'; readonly volume: Volume; readonly sector: number; readonly sectors: number; readonly pattern: number } & Alongside)
  | ({ readonly op: 'read'; readonly volume: Volume; readonly sector: number; readonly sectors: number } & Alongside)
  | ({ readonly op: 'flush'; readonly volume: Volume } & Alongside)
  | { readonly op: 'startRestore'; readonly protect: boolean }
  /** `count` background copy steps (1 when absent). */
  | ({ readonly op: 'step'; readonly count?: number } & Alongside)
  /** Power loss between operations, with no I/O in flight. */
  | { readonly op: 'powerLoss'; readonly mode: CacheMode; readonly choice?: SurvivalChoice };

/** How source and clone differ before the workload: the extents that differ, and what D says. */
export interface InitialState {
  /** Extents whose source content differs from the clone's (`all`, `none`, or indices). */
  readonly differ: 'all' | 'none' | readonly number[];
  /** What the delta map starts with: exactly the differing extents, or every bit set. */
  readonly delta: 'exact' | 'all';
}

/** A crash planned at an I/O point, with the cache mode (and optionally the exact survivors). */
export interface CrashPlan {
  readonly point: number;
  readonly mode: CacheMode;
  readonly choice?: SurvivalChoice;
}

export interface Case {
  readonly geometry: Geometry;
  readonly initial: InitialState;
  readonly workload: readonly HostOp[];
  readonly crashes: readonly CrashPlan[];
  readonly eio: readonly EioFault[];
  /** Finish by running the restore to completion and checking the end rules (default true). */
  readonly finish?: boolean;
  /**
   * Operations in flight together complete in an order drawn from the seed (absent: in issue
   * order); `order` lists the decisions taken, which replay the order without the seed.
   */
  readonly inFlight?: InFlightOptions;
  /** How the devices behave (src/devices/device-profile.ts); absent: the default device. Carried whole, so a line replays without the file it came from. */
  readonly profile?: DeviceProfile;
  /** The engine's tuning for this case (`EngineFactory.withOptions`); its defaults when absent. */
  readonly engineOptions?: EngineOptions;
}

export { RULES, type RuleName, type RuleNumber } from './oracle/rules.js';

/** A rule's finding, with what a reader needs to see it happen again. */
export interface Violation extends Finding {
  /** The last I/O trace lines before the violation. */
  readonly trace: readonly string[];
  /** The one line that reproduces the violation. */
  readonly replay: string;
  /** What survived each crash before the violation, in words; set once the crash is shrunk. */
  readonly crash?: readonly string[];
}

export interface CaseResult {
  readonly violations: readonly Violation[];
  /** Crash-and-recover cycles checked in this case. */
  readonly crashStates: number;
  /** I/O points the case used. */
  readonly ioPoints: number;
}

/** A scenario file, loaded: one workload that `exhaust` crashes at every I/O point. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly geometry: Geometry;
  readonly initial: InitialState;
  readonly workload: readonly HostOp[];
  /** Cache modes to crash in (all four when the file does not say). */
  readonly modes: readonly CacheMode[];
  /** 1: one crash at every I/O point; 2: also a second crash at every point of each recovery. */
  readonly depth: 1 | 2;
  /** Operations in flight complete out of issue order: exhaust tries completion orders too. */
  readonly inFlight?: InFlightExploration;
  /** The scenario's devices (field `deviceProfile`: a preset's name or a profile); a run's --device-profile overrides it. */
  readonly profile?: DeviceProfile;
  /** The engine's tuning (`EngineFactory.withOptions`); its defaults when absent. */
  readonly engineOptions?: EngineOptions;
}

/** How many completion orders `exhaust` tries (./exhaust-in-flight.ts). */
export interface InFlightExploration {
  /** At most this many orders, depth first from in issue order (default 16). */
  readonly orders: number;
  /** A decision among more operations in flight than this is not branched on: the seed picks (default 4). */
  readonly maxCandidates: number;
}
