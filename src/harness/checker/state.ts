/**
 * The checker's state: everything it knows between two engine calls, in one object. A crash state
 * resumed from a recorded run takes over the whole object as it was before the call the crash
 * interrupts (`copyState`), so no part of it can be left behind: a field added here is copied
 * with the rest, and a field of a kind the copy does not know fails loudly instead of being shared.
 */
import { VolumeModel } from '../../../model/volume-model.js';
import type { CrashPlan, HostOp } from '../case.js';

export interface CheckerState {
  /** What a host may read from the source, and what is durable there. */
  sourceModel: VolumeModel;
  /** The same for the clone. */
  cloneModel: VolumeModel;
  phase: 'fractured' | 'restoring';
  /** Whether the current (or last) restore is protected. */
  protect: boolean;
  restoresStarted: number;
  /** Clone bytes when the current restore started (rule 1). */
  cloneAtStart: Uint8Array | undefined;
  /** D at the start of the current restore, plus extents the host wrote since (rule 5). */
  copyAllowed: Set<number> | undefined;
  /** Extents the host wrote to the source since the current restore started. */
  hostWritten: Set<number>;
  /** The host wrote source or clone after the last restore completed: the pair may differ again. */
  writtenSinceRestore: boolean;
  /** Trace entries from here on belong to the current restore and are judged by rules 1 and 5. */
  restoreTraceFrom: number;
  /** Trace entries before this one have been judged. */
  traceChecked: number;
  /** A startRestore whose outcome a crash or error left open: the clone model it would restore. */
  pendingStart: { protect: boolean; cloneBefore: VolumeModel } | undefined;
  /** Crash-and-recover cycles so far. */
  crashStates: number;
  /** Planned crashes with the survivors each one got. */
  resolvedCrashes: CrashPlan[];
  /** The workload's power losses with the survivors each one got. */
  resolvedOps: HostOp[];
  /** The transcript's own lines, each at the I/O point where it was said. */
  log: { point: number; text: string }[];
  /** The I/O point at which each workload operation began, and last where the finish began. */
  opStarts: number[];
  /** Crash points from here on are not armed: the end checks run without faults. */
  armedEnd: number;
}

export function initialState(sourceModel: VolumeModel, cloneModel: VolumeModel): CheckerState {
  return {
    sourceModel,
    cloneModel,
    phase: 'fractured',
    protect: true,
    restoresStarted: 0,
    cloneAtStart: undefined,
    copyAllowed: undefined,
    hostWritten: new Set(),
    writtenSinceRestore: false,
    restoreTraceFrom: 0,
    traceChecked: 0,
    pendingStart: undefined,
    crashStates: 0,
    resolvedCrashes: [],
    resolvedOps: [],
    log: [],
    opStarts: [],
    armedEnd: 0,
  };
}

/** An independent copy of the whole state: a recorded state is resumed by many crash states. */
export function copyState(state: CheckerState): CheckerState {
  return copyValue(state, 'state') as CheckerState;
}

/** A deep copy of plain data, sets, byte arrays and volume models (which copy themselves). */
function copyValue(value: unknown, path: string): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof VolumeModel) return value.copy();
  if (value instanceof Uint8Array) return value.slice();
  if (value instanceof Set) return new Set([...value].map((v, i) => copyValue(v, `${path}[${i}]`)));
  if (Array.isArray(value)) return value.map((v, i) => copyValue(v, `${path}[${i}]`));
  if (Object.getPrototypeOf(value) === Object.prototype) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copyValue(v, `${path}.${k}`)]));
  throw new Error(`the checker cannot copy ${path}, a ${value.constructor.name}: teach copyState how, or a resumed crash state would share it`);
}
