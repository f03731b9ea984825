/**
 * The checker's core, which every part of it works through: the checker's state, the engine it
 * opened, and the engine calls (through the port), with what a failed call means. A crash is
 * recovered from here: power loss, survivors, restart, the engine opened again, and then the
 * checks recovery must pass (`./after-recovery.ts`, handed in by whoever builds the checker).
 */
import { sectorValue, VolumeModel } from '../../../model/volume-model.js';
import { type CacheMode, type DeviceName, describeSurvival, FaultLayer, type SurvivalChoice } from '../../devices/fault-layer.js';
import type { MemoryDevice } from '../../devices/memory-device.js';
import type { EngineFactory, Geometry, RestoreDevices, RestoreEngine } from '../../engine/contract.js';
import type { Case, CrashPlan } from '../case.js';
import type { Finding } from '../oracle/finding.js';
import { engineFailed } from '../oracle/engine-failed.js';
import type { RuleName } from '../oracle/rules.js';
import { type EnginePort, LivePort, type Outcome } from './engine-port.js';
import { ReplayingPort, type Resume, UnconsultedModel } from './replaying-port.js';
import { restoreTraceFindings } from './restore-trace.js';
import { type CheckerState, copyState, initialState } from './state.js';

/**
 * An injected error may repeat (a medium error that never heals would block every engine): after
 * this many failures in a row of one call the harness removes every planned fault.
 */
const FAULT_RETRIES = 3;

export interface CheckerOptions {
  readonly seed: string;
  /** Keep a readable transcript of host operations, device I/O, crashes and checks. */
  readonly transcript?: boolean;
  /** Keep the bytes of every write in the trace, so crash states can be derived from it. */
  readonly recordData?: boolean;
  /** Keep what every engine call returned and every device image the checks looked at. */
  readonly record?: boolean;
  /** Start from a crash state of a recorded run instead of running the engine up to it. */
  readonly resume?: Resume;
}

/** Counts the injected faults of one call, retried; at `FAULT_RETRIES` they are all removed. */
export class FaultRetries {
  private faults = 0;

  constructor(private readonly layer: FaultLayer) {}

  /** One more fault: true when it was the last one allowed, and every planned fault is gone. */
  fault(): boolean {
    if (++this.faults < FAULT_RETRIES) return false;
    this.layer.disarm();
    this.faults = 0;
    return true;
  }
}

/** Unwinds the run at the first violation. */
export class Stop extends Error {
  constructor(
    readonly finding: Finding,
    /** The engine returned an error of its own (a refusal), rather than a check failing. */
    readonly engineError = false,
  ) {
    super(finding.message);
  }
}

export class Checker {
  readonly state: CheckerState;
  engine: RestoreEngine | undefined;
  readonly geometry: Geometry;
  readonly sectorSize: number;
  readonly layer: FaultLayer;
  readonly port: EnginePort;
  /** The engine itself, which records the run when asked to. */
  readonly live: LivePort;
  private readonly plans: Map<number, CrashPlan>;
  /** The engine object of a replayed open belongs to the recorded run: never disposed here. */
  private engineIsRecorded = false;

  constructor(
    private readonly factory: EngineFactory,
    c: Case,
    private readonly options: CheckerOptions,
    backends: Record<DeviceName, MemoryDevice>,
    private readonly afterRecovery: (checker: Checker) => Promise<void>,
  ) {
    this.geometry = c.geometry;
    this.sectorSize = c.geometry.sectorSize;
    this.plans = new Map(c.crashes.map((p) => [p.point, p]));
    this.layer = new FaultLayer(backends, { crashAt: [...this.plans.keys()], eio: c.eio }, options.seed, options.recordData, c.inFlight, c.profile);
    this.live = new LivePort(this.layer, options.record ? () => copyState(this.state) : undefined);
    const { resume } = options;
    // Resuming, the state at the crash replaces whatever the replayed prefix built. In place: the
    // one state object is the checker's for the whole run, whoever holds it.
    this.port = resume === undefined ? this.live : new ReplayingPort(resume, this.layer, this.live, (recorded) => Object.assign(this.state, copyState(recorded)));
    const model = (device: MemoryDevice) => (this.port.replaying ? new UnconsultedModel() : new VolumeModel(this.sectorsOf(device.bytes)));
    this.state = initialState(model(backends.source), model(backends.clone));
  }

  call<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
    return this.port.call(fn);
  }

  /** The cached view of a device, for a check: recorded, and replayed while resuming. */
  peek(device: DeviceName): Promise<Uint8Array> {
    return this.port.peek(device);
  }

  /** A call the harness needs to succeed (status, inspect, the final checks) for `rule`'s check. */
  async must<T>(what: string, rule: RuleName, fn: () => Promise<T>): Promise<T> {
    const retries = new FaultRetries(this.layer);
    for (;;) {
      const out = await this.call(fn);
      if (out.ok) return out.value;
      if (out.crashed) {
        await this.powerLost();
        continue;
      }
      if (!out.faulted) throw new Stop(engineFailed(what, out.error, rule), true);
      retries.fault();
    }
  }

  /**
   * A call done: a crash is recovered from, an injected EIO is allowed, anything else fails
   * `rule`, whose check needed the call.
   */
  async settle(out: Outcome<unknown>, what: string, rule: RuleName): Promise<void> {
    this.checkRestoreTrace();
    if (out.ok || out.faulted) return;
    if (out.crashed) return this.powerLost();
    throw new Stop(engineFailed(what, out.error, rule), true);
  }

  /** Opens the engine until it opens: a crash inside recovery is another crash state. */
  async open(): Promise<void> {
    const retries = new FaultRetries(this.layer);
    for (;;) {
      const opened = await this.call(() => this.factory.open(this.layer.devices as RestoreDevices, this.geometry));
      if (opened.ok) {
        this.engine = opened.value;
        this.engineIsRecorded = this.port.replaying;
        return;
      }
      // A crash inside recovery: lose power again and go on opening here. Recovering through
      // `powerLost` would open the engine in there and then once more in this loop.
      if (opened.crashed) {
        await this.loseCache();
        continue;
      }
      if (!opened.faulted) throw new Stop(engineFailed('opening the engine', opened.error, 'progress'), true);
      retries.fault();
    }
  }

  /** Power was lost (inside an operation or between two): survivors, restart, recovery, checks. */
  async powerLost(mode?: CacheMode, choice?: SurvivalChoice): Promise<void> {
    await this.loseCache(mode, choice);
    await this.open();
    await this.afterRecovery(this);
  }

  /** The power loss itself: the engine gone, the cache's survivors chosen, the models widened. */
  private async loseCache(mode?: CacheMode, choice?: SurvivalChoice): Promise<void> {
    const point = this.layer.lastCrashPoint;
    const plan = point === undefined ? undefined : this.plans.get(point);
    // What was cached, for the transcript's words on what survived: only a transcript reads it.
    const pending = this.options.transcript ? this.layer.pending() : undefined;
    const chosen = await this.layer.powerLoss(mode ?? plan?.mode ?? 'torn', choice ?? plan?.choice);
    if (point !== undefined && plan !== undefined) this.state.resolvedCrashes.push({ ...plan, choice: chosen });
    if (pending !== undefined) this.note(`POWER LOSS${point === undefined ? '' : ` at I/O point ${point}`}: ${describeSurvival(pending, chosen)}`);
    this.state.crashStates++;
    await this.dispose();
    this.state.sourceModel.crash();
    this.state.cloneModel.crash();
    this.layer.restart();
    this.note('recovery: open the engine on the surviving images');
  }

  async dispose(): Promise<void> {
    if (!this.engineIsRecorded) await this.engine?.dispose?.();
    this.engine = undefined;
    this.engineIsRecorded = false;
  }

  /** Rules 1 and 5 over the device I/O issued since the last look. */
  checkRestoreTrace(): void {
    const checkedTo = this.state.traceChecked;
    this.state.traceChecked = this.layer.trace.length;
    this.judge(() => restoreTraceFindings(this.state, this.layer.trace, checkedTo, this.geometry));
  }

  /** A rule's check, skipped while a recorded prefix is replayed (it held when it was recorded). */
  judge(findings: () => readonly Finding[]): void {
    if (this.port.replaying) return;
    const found = findings();
    if (found.length > 0) throw new Stop(found[0]!);
  }

  note(text: string): void {
    if (this.options.transcript) this.state.log.push({ point: this.layer.nextPoint, text });
  }

  private sectorsOf(image: Uint8Array): string[] {
    const values = [];
    for (let o = 0; o < image.length; o += this.sectorSize) values.push(sectorValue(image.subarray(o, o + this.sectorSize)));
    return values;
  }
}
