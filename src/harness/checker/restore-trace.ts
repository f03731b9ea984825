/**
 * Rules 1 and 5 over the device I/O a restore issued: no write reaches the clone while a protected
 * restore (or a start still undecided) runs, and the source is written only where D said so at the
 * start or the host wrote since. I/O that failed with EIO did nothing and is not judged.
 */
import type { TraceEntry } from '../../devices/fault-layer.js';
import type { Geometry } from '../../engine/contract.js';
import { cloneWrites } from '../oracle/clone-preserved.js';
import type { Finding } from '../oracle/finding.js';
import { sourceWritesWithin } from '../oracle/only-differing-copied.js';
import type { CheckerState } from './state.js';

/** The findings over the trace entries from `checkedTo` on (those before were judged already). */
export function restoreTraceFindings(state: CheckerState, trace: readonly TraceEntry[], checkedTo: number, geometry: Geometry): Finding[] {
  const restoring = state.phase === 'restoring';
  if (!restoring && state.pendingStart === undefined) return [];
  const from = Math.max(checkedTo, state.restoreTraceFrom);
  const entries = trace.slice(Math.min(from, trace.length)).filter((e) => e.outcome !== 'eio');
  const protect = state.pendingStart?.protect ?? state.protect;
  const clone = protect ? cloneWrites(entries) : [];
  if (clone.length > 0 || !restoring || state.copyAllowed === undefined) return clone;
  return sourceWritesWithin(geometry, entries, state.copyAllowed);
}
