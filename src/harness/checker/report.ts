/**
 * What a run reports: the case with every crash's survivors filled in (so it replays without the
 * seed's help), a violation with the trace before it and the line that replays it, and the
 * transcript of host operations, device I/O, crashes and checks in the order they happened.
 */
import { formatTraceEntry, type TraceEntry } from '../../devices/fault-layer.js';
import type { Case, Violation } from '../case.js';
import type { Finding } from '../oracle/finding.js';
import { replayCommand, unnamedEngineArgs } from '../replay-line.js';
import type { CheckerState } from './state.js';

/** How many trace lines a violation carries when the caller does not say. */
export const DEFAULT_TRACE_LINES = 12;

/** `order`: the completion order the devices took, when operations completed out of issue order. */
export function resolvedCase(c: Case, state: CheckerState, order?: readonly number[]): Case {
  const byPoint = new Map(state.resolvedCrashes.map((p) => [p.point, p]));
  let powerLosses = 0;
  return {
    ...c,
    ...(c.inFlight === undefined || order === undefined ? {} : { inFlight: { ...c.inFlight, order } }),
    crashes: c.crashes.map((p) => byPoint.get(p.point) ?? p),
    workload: c.workload.map((op) => (op.op === 'powerLoss' ? (state.resolvedOps[powerLosses++] ?? op) : op)),
  };
}

export function violation(finding: Finding, trace: readonly TraceEntry[], resolved: Case, options: { readonly seed: string; readonly engineName: string; readonly engineArgs?: string; readonly traceLines?: number }): Violation {
  return {
    ...finding,
    trace: trace.slice(-(options.traceLines ?? DEFAULT_TRACE_LINES)).map(formatTraceEntry),
    replay: replayCommand(options.engineArgs ?? unnamedEngineArgs(options.engineName), resolved, options.seed),
  };
}

export function transcript(trace: readonly TraceEntry[], log: CheckerState['log']): string[] {
  const out: string[] = [];
  let i = 0;
  for (const entry of trace) {
    while (i < log.length && log[i]!.point <= entry.point) out.push(log[i++]!.text);
    out.push(`  ${formatTraceEntry(entry)}`);
  }
  while (i < log.length) out.push(log[i++]!.text);
  return out;
}
