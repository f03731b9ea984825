/**
 * The checker's one way to the engine and to the devices' images: a port. The live port runs the
 * call on the engine and classifies how it failed; `./replaying-port.ts` stands in for the engine
 * with a recorded run up to a crash state, then hands over to the live port.
 */
import { CrashError, type DeviceName, type FaultLayer } from '../../devices/fault-layer.js';
import { CloneBusyError } from '../../engine/contract.js';
import { EngineMisbehaviourError } from '../../errors.js';
import type { CheckerState } from './state.js';

/** What happened to one engine call. */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly crashed: boolean; readonly faulted: boolean; readonly busy: boolean; readonly error: unknown };

/**
 * What the checker saw of the engine, in order: each call's outcome, how far the trace had got
 * when it returned and the checker's state before it, and each image a check peeked at. Replaying
 * it drives the checker through a prefix of the run exactly as before, without the engine and
 * without device I/O.
 */
export type RecordedEvent =
  | { readonly kind: 'call'; readonly outcome: Outcome<unknown>; readonly traceEnd: number; readonly before: CheckerState }
  | { readonly kind: 'peek'; readonly bytes: Uint8Array };

export interface EnginePort {
  /** True while a recorded run stands in for the engine: no rule is judged, no model consulted. */
  readonly replaying: boolean;
  /** Runs one engine call (`fn`) and says how it went. */
  call<T>(fn: () => Promise<T>): Promise<Outcome<T>>;
  /** The cached view of a device, for a check. */
  peek(device: DeviceName): Promise<Uint8Array>;
}

/** The engine itself, on the fault layer; with `record`, every call and peek is kept as an event. */
export class LivePort implements EnginePort {
  readonly replaying = false;
  readonly events: RecordedEvent[] = [];

  constructor(
    private readonly layer: FaultLayer,
    /** The state to record before each call, when recording. */
    private readonly recordState?: () => CheckerState,
  ) {}

  async call<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
    const before = this.recordState?.();
    const outcome = await this.run(fn);
    if (before !== undefined) this.events.push({ kind: 'call', outcome, traceEnd: this.layer.trace.length, before });
    return outcome;
  }

  async peek(device: DeviceName): Promise<Uint8Array> {
    const bytes = await this.layer.peek(device);
    if (this.recordState !== undefined) this.events.push({ kind: 'peek', bytes });
    return bytes;
  }

  private async run<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
    const traceFrom = this.layer.trace.length;
    try {
      return { ok: true, value: await fn() };
    } catch (error) {
      return failedOutcome(this.layer, traceFrom, error);
    }
  }
}

/**
 * How a call that rejected with `error` failed, its I/O being the trace from `traceFrom`. Calls
 * issued alongside each other share their I/O in the trace: an injected fault in any of them
 * excuses each one's failure.
 */
export function failedOutcome(layer: FaultLayer, traceFrom: number, error: unknown): Outcome<never> {
  // An engine that broke the contract itself (a protocol error, a hang) is bad input, not a rule it failed.
  if (error instanceof EngineMisbehaviourError) throw error;
  const crashed = layer.isDown || error instanceof CrashError;
  const faulted = layer.trace.slice(traceFrom).some((e) => e.outcome === 'eio');
  const busy = error instanceof CloneBusyError || (error instanceof Error && error.name === 'CloneBusyError');
  return { ok: false, crashed, faulted, busy, error };
}
