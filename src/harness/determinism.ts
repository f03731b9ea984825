/**
 * An engine must repeat its I/O for the same inputs. Replay lines, counterexample files, crash
 * shrinking and exhaust's resumed crash states all rest on that: a run that cannot be repeated
 * cannot be replayed, shrunk or resumed, and a violation it reports would not reproduce. So where
 * a second run is cheap, the harness makes one and compares; an engine that parts from itself is
 * reported as such (bad input, exit 2), never as a rule violation it might not have.
 */
import { createHash } from 'node:crypto';
import { InputError } from '../errors.js';
import { formatTraceEntry, type TraceEntry } from '../devices/fault-layer.js';
import type { Violation } from './case.js';

/** Two runs of the same case, engine and seed did different I/O (or judged differently). */
export class NondeterministicEngineError extends InputError {
  constructor(
    message: string,
    /** The I/O point where the traces part, when they do. */
    readonly point?: number,
  ) {
    super(message);
    this.name = 'NondeterministicEngineError';
  }
}

/** One digest over a whole trace: equal digests, equal I/O (devices, ranges, flags, data, outcomes). */
export function traceDigest(trace: readonly TraceEntry[]): string {
  const hash = createHash('sha256');
  for (const e of trace) hash.update(formatTraceEntry(e)).update('\n');
  return hash.digest('hex');
}

/** Where two traces first differ, as the point and each run's entry there; undefined if equal. */
export function traceParting(first: readonly TraceEntry[], second: readonly TraceEntry[]): { point: number; first: string; second: string } | undefined {
  const n = Math.max(first.length, second.length);
  for (let i = 0; i < n; i++) {
    const a = first[i];
    const b = second[i];
    const sa = a === undefined ? undefined : formatTraceEntry(a);
    const sb = b === undefined ? undefined : formatTraceEntry(b);
    if (sa === sb) continue;
    const ended = '(no I/O: the run had ended)';
    return { point: a?.point ?? b!.point, first: sa ?? ended, second: sb ?? ended };
  }
  return undefined;
}

function verdict(violations: readonly Violation[]): string {
  const v = violations[0];
  return v === undefined ? 'every check held' : `rule ${v.rule}: ${v.message}`;
}

interface Run {
  readonly trace: readonly TraceEntry[];
  readonly violations: readonly Violation[];
}

/**
 * Throws `NondeterministicEngineError` unless two runs of the same case did the same I/O and
 * reached the same verdict. Digests first: most runs agree, and then one hash each is the cost.
 */
export function assertDeterministic(first: Run, second: Run): void {
  if (traceDigest(first.trace) !== traceDigest(second.trace)) {
    const at = traceParting(first.trace, second.trace)!;
    throw new NondeterministicEngineError(`the engine is not deterministic: traces part at I/O point ${at.point}: first run ${at.first}, second run ${at.second}`, at.point);
  }
  // Same I/O, different answers to the host: the engine's results depend on something else.
  const a = verdict(first.violations);
  const b = verdict(second.violations);
  if (a !== b) throw new NondeterministicEngineError(`the engine is not deterministic: the same I/O gave different verdicts: first run ${a}, second run ${b}`);
}
