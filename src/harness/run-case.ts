/**
 * The checker: runs one case against an engine on fault-layer devices, feeds the same host
 * operations to the model, and applies the oracle's rules (./oracle/) where each applies. It stops
 * at the first violation and reports it with the trace before it and the line that replays it.
 *
 * Its parts (./checker/): the core every part works through (`checker.ts`: the state, engine
 * calls through a live or replaying port, crash recovery), what every recovery must show
 * (`after-recovery.ts`), the host operations (`host-ops.ts`), the restore as it goes
 * (`restore.ts`, `restore-trace.ts`), the end rules (`end-rules.ts`) and the report (`report.ts`).
 */
import type { Decision } from '../devices/completion-order.js';
import type { TraceEntry } from '../devices/fault-layer.js';
import type { EngineFactory } from '../engine/contract.js';
import type { Case, CaseResult, Violation } from './case.js';
import { afterRecovery } from './checker/after-recovery.js';
import { Checker, type CheckerOptions, Stop } from './checker/checker.js';
import { finish } from './checker/end-rules.js';
import type { RecordedEvent } from './checker/engine-port.js';
import { applyHostOp } from './checker/host-ops.js';
import { applyTogether, groupAt } from './checker/together.js';
import { resolvedCase, transcript, violation } from './checker/report.js';
import { deviceExcuse } from './checker/device-excuse.js';
import { blankDevices, formattedDevices } from './checker/set-up.js';
import { engineForCase } from './engine-options.js';

export interface RunOptions extends CheckerOptions {
  /** How the replay line names the engine. */
  readonly engineArgs?: string;
  /** How many trace lines a violation carries (default `DEFAULT_TRACE_LINES`, 12). */
  readonly traceLines?: number;
}

export interface CaseRun extends CaseResult {
  /** The case with every crash's survivors filled in: replays without the seed's help. */
  readonly resolved: Case;
  readonly transcript: readonly string[];
  /** Every I/O of the run. */
  readonly trace: readonly TraceEntry[];
  /** The I/O point at which each workload operation began, and last where the finish began. */
  readonly opStarts: readonly number[];
  /** Crash points from here on are not armed: the end checks run without faults. */
  readonly armedEnd: number;
  /** With `record`: what the checker saw, for resuming from any crash state of this run. */
  readonly events: readonly RecordedEvent[];
  /** With `inFlight`: every completion-order decision the devices took, with its candidates. */
  readonly decisions?: readonly Decision[];
}

export async function runCase(factory: EngineFactory, c: Case, options: RunOptions): Promise<CaseRun> {
  const engine = engineForCase(factory, c);
  const devices = options.resume === undefined ? await formattedDevices(engine, c) : blankDevices(c, options.resume.durable);
  const checker = new Checker(engine, c, options, devices, afterRecovery);
  const { state, layer } = checker;
  let found: Violation | undefined;
  try {
    checker.note('open the engine');
    await checker.open();
    for (let at = 0; at < c.workload.length; ) {
      const group = groupAt(c.workload, at);
      for (let i = 0; i < group.length; i++) state.opStarts.push(layer.nextPoint);
      await (group.length === 1 ? applyHostOp(checker, group[0]!) : applyTogether(checker, group));
      at += group.length;
    }
    state.opStarts.push(layer.nextPoint);
    if (c.finish !== false) await finish(checker);
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    const excused = deviceExcuse(e, layer, c.geometry);
    if (excused === undefined) found = violation(e.finding, layer.trace, resolvedCase(c, state, layer.completionOrder?.taken), { ...options, engineName: factory.name });
    else checker.note(`EXCUSED: ${excused}`);
  } finally {
    await checker.dispose();
  }
  return {
    violations: found === undefined ? [] : [found],
    crashStates: state.crashStates,
    ioPoints: layer.nextPoint,
    resolved: resolvedCase(c, state, layer.completionOrder?.taken),
    transcript: options.transcript ? transcript(layer.trace, state.log) : [],
    trace: layer.trace,
    opStarts: state.opStarts,
    armedEnd: c.finish === false ? layer.nextPoint : state.armedEnd,
    events: checker.live.events,
    ...(layer.completionOrder === undefined ? {} : { decisions: layer.completionOrder.decisions }),
  };
}
