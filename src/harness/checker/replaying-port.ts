/**
 * Resuming a crash state of a recorded run: the recorded calls and peeks stand in for the engine
 * up to the call in which the crash point falls, their I/O taken into the trace as it was. There
 * the devices take the crash state, the checker takes the state it had before that call, the call
 * fails as a crash, and the run goes on live. Replaying costs no engine and no device I/O.
 */
import { VolumeModel } from '../../../model/volume-model.js';
import { type CachedWrite, CrashError, type DeviceName, type FaultLayer, type TraceEntry } from '../../devices/fault-layer.js';
import type { EnginePort, LivePort, Outcome, RecordedEvent } from './engine-port.js';
import type { CheckerState } from './state.js';

/** A crash state of a recorded run: its events and trace, and the devices at the crash. */
export interface Resume {
  readonly events: readonly RecordedEvent[];
  readonly trace: readonly TraceEntry[];
  readonly point: number;
  readonly durable: Readonly<Record<DeviceName, Uint8Array>>;
  readonly pending: readonly CachedWrite[];
}

export class ReplayingPort implements EnginePort {
  /** The next recorded event; undefined once the crash is reached and the live port took over. */
  private at: number | undefined = 0;

  constructor(
    private readonly resume: Resume,
    private readonly layer: FaultLayer,
    private readonly live: LivePort,
    /** Hands the checker the state it had before the call the crash interrupts. */
    private readonly takeOver: (state: CheckerState) => void,
  ) {}

  get replaying(): boolean {
    return this.at !== undefined;
  }

  async call<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
    if (this.at === undefined) return this.live.call(fn);
    const event = this.resume.events[this.at++];
    if (event?.kind !== 'call') throw new Error('resuming: the recorded run made no call here; the checker is not deterministic');
    const entries = this.resume.trace.slice(this.layer.trace.length, event.traceEnd);
    const crashAt = entries.findIndex((e) => e.point >= this.resume.point);
    if (crashAt < 0) {
      this.layer.replayTrace(entries);
      return event.outcome as Outcome<T>;
    }
    this.layer.replayTrace(entries.slice(0, crashAt));
    this.takeOver(event.before);
    await this.layer.enterCrash({ entry: entries[crashAt]!, durable: this.resume.durable, pending: this.resume.pending });
    this.at = undefined;
    return { ok: false, crashed: true, faulted: false, busy: false, error: new CrashError(this.resume.point) };
  }

  async peek(device: DeviceName): Promise<Uint8Array> {
    if (this.at === undefined) return this.live.peek(device);
    const event = this.resume.events[this.at++];
    if (event?.kind !== 'peek') throw new Error('resuming: the recorded run took no image here; the checker is not deterministic');
    return event.bytes;
  }
}

/**
 * The model while a recorded prefix is replayed: not consulted, since the state recorded at the
 * crash replaces everything the prefix would have built. Replaying costs no model work.
 */
export class UnconsultedModel extends VolumeModel {
  constructor() {
    super([]);
  }
  override write(): void {}
  override uncertainWrite(): void {}
  override flush(): void {}
  override crash(): void {}
  override allows(): boolean {
    return true;
  }
  override holdsOnly(): boolean {
    return true;
  }
  override observe(): void {}
  override assignFrom(): void {}
  override copy(): VolumeModel {
    return this;
  }
}
