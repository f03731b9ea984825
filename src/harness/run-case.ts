/**
 * The checker: runs one case against an engine on fault-layer devices, feeds the same host
 * operations to the model, and applies the oracle's rules (./oracle/) where each applies. It stops
 * at the first violation and reports it with the trace before it and the line that replays it.
 */
import { VolumeModel, sectorValue } from '../../model/volume-model.js';
import { MemoryDevice } from '../devices/memory-device.js';
import { type CachedWrite, type CacheMode, CrashError, type DeviceName, describeSurvival, FaultLayer, formatTraceEntry, type SurvivalChoice, type TraceEntry } from '../devices/fault-layer.js';
import { EngineMisbehaviourError } from '../errors.js';
import { CloneBusyError, type EngineFactory, type EngineStatus, extentCount, extentsOf, type Geometry, type InitialDelta, type RestoreDevices, type RestoreEngine } from '../engine/contract.js';
import type { Case, CaseResult, CrashPlan, HostOp, Violation, Volume } from './case.js';
import { cloneUnchanged, cloneWrites } from './oracle/clone-preserved.js';
import { startBranch } from './oracle/atomic-start.js';
import { deltaCoversDifferences } from './oracle/delta-map-sound.js';
import type { Finding } from './oracle/finding.js';
import { sourceWritesWithin } from './oracle/only-differing-copied.js';
import { engineFailed, noProgress, stepBound } from './oracle/progress.js';
import { readMatchesModel } from './oracle/reads-right.js';
import { pairEqual, sourceMatchesModel } from './oracle/restore-ends-right.js';
import { replayCommand, unnamedEngineArgs } from './replay-line.js';
import { differingExtents, hostWriteData, initialImages } from './sector-data.js';

export interface RunOptions {
  readonly seed: string;
  /** How the replay line names the engine. */
  readonly engineArgs?: string;
  /** Keep a readable transcript of host operations, device I/O, crashes and checks. */
  readonly transcript?: boolean;
  /** How many trace lines a violation carries. */
  readonly traceLines?: number;
  /** Keep the bytes of every write in the trace, so crash states can be derived from it. */
  readonly recordData?: boolean;
  /** Keep what every engine call returned and every device image the checks looked at. */
  readonly record?: boolean;
  /** Start from a crash state of a recorded run instead of running the engine up to it. */
  readonly resume?: Resume;
}

/**
 * What the checker saw of the engine, in order: each call's outcome and how far the trace had
 * got when it returned, and each image a check peeked at. Replaying it drives the checker
 * through a prefix of the run exactly as before, without the engine and without device I/O.
 */
export type RecordedEvent =
  | { readonly kind: 'call'; readonly outcome: Outcome<unknown>; readonly traceEnd: number; readonly before: CheckerState }
  | { readonly kind: 'peek'; readonly bytes: Uint8Array };

/** Everything the checker knows between two engine calls, as `snapshot` copies it. */
export interface CheckerState {
  readonly source: VolumeModel;
  readonly clone: VolumeModel;
  readonly phase: 'fractured' | 'restoring';
  readonly protect: boolean;
  readonly restoresStarted: number;
  readonly cloneAtStart: Uint8Array | undefined;
  readonly copyAllowed: ReadonlySet<number> | undefined;
  readonly hostWritten: ReadonlySet<number>;
  readonly writtenSinceRestore: boolean;
  readonly restoreTraceFrom: number;
  readonly traceChecked: number;
  readonly pendingStart: { readonly protect: boolean; readonly cloneBefore: VolumeModel } | undefined;
  readonly crashStates: number;
  readonly resolvedCrashes: readonly CrashPlan[];
  readonly resolvedOps: readonly HostOp[];
  readonly log: readonly { point: number; text: string }[];
  readonly opStarts: readonly number[];
  readonly armedEnd: number;
}

/**
 * The model while a recorded prefix is replayed: not consulted, since the state recorded at the
 * crash replaces everything the prefix would have built. Replaying costs no model work.
 */
class Unconsulted extends VolumeModel {
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
  override observe(): void {}
  override assignFrom(): void {}
  override clone(): VolumeModel {
    return this;
  }
}

/** A crash state of a recorded run: its events and trace, and the devices at the crash. */
export interface Resume {
  readonly events: readonly RecordedEvent[];
  readonly trace: readonly TraceEntry[];
  readonly point: number;
  readonly durable: Readonly<Record<DeviceName, Uint8Array>>;
  readonly pending: readonly CachedWrite[];
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
}

/** The three devices of a case as they are before the workload: initial images, fresh metadata. */
export async function formattedDevices(factory: EngineFactory, c: Case): Promise<Record<'source' | 'clone' | 'meta', MemoryDevice>> {
  const { geometry } = c;
  const extents = extentCount(geometry);
  const { source, clone } = initialImages(geometry, c.initial, extents);
  const metaSize = Math.ceil(factory.metadataSize(geometry) / geometry.sectorSize) * geometry.sectorSize;
  const devices = {
    source: new MemoryDevice(source, geometry.sectorSize, 'source'),
    clone: new MemoryDevice(clone, geometry.sectorSize, 'clone'),
    meta: MemoryDevice.zeroed(metaSize, geometry.sectorSize, 'meta'),
  };
  const differ = differingExtents(c.initial, extents);
  const delta: InitialDelta = c.initial.delta === 'all' || c.initial.differ === 'all' ? 'all' : differ.size === 0 ? 'none' : Array.from({ length: extents }, (_, i) => differ.has(i));
  // Formatting is set-up, not the system under test: it runs on the bare devices.
  await factory.format(devices, geometry, delta);
  return devices;
}

/** Unwinds the run at the first violation. */
class Stop extends Error {
  constructor(readonly finding: Finding) {
    super(finding.message);
  }
}

/** What happened to one engine call. */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly crashed: boolean; readonly faulted: boolean; readonly busy: boolean; readonly error: unknown };

export async function runCase(factory: EngineFactory, c: Case, options: RunOptions): Promise<CaseRun> {
  const run = new CaseRunner(factory, c, options);
  return run.run();
}

class CaseRunner {
  private readonly geometry: Geometry;
  private readonly sectorSize: number;
  private layer!: FaultLayer;
  private engine: RestoreEngine | undefined;
  private source!: VolumeModel;
  private clone!: VolumeModel;
  private phase: 'fractured' | 'restoring' = 'fractured';
  private protect = true;
  private restoresStarted = 0;
  /** Clone bytes when the current protected restore started (rule 1). */
  private cloneAtStart: Uint8Array | undefined;
  /** D at the start of the current restore, plus extents the host wrote since (rule 5). */
  private copyAllowed: Set<number> | undefined;
  private hostWritten = new Set<number>();
  /** The host wrote source or clone after the last restore completed: the pair may differ again. */
  private writtenSinceRestore = false;
  /** Trace entries from here on belong to the current restore and are judged by rules 1 and 5. */
  private restoreTraceFrom = 0;
  private traceChecked = 0;
  /** A startRestore whose outcome a crash or error left open: the clone model it would copy. */
  private pendingStart: { protect: boolean; cloneBefore: VolumeModel } | undefined;
  private crashStates = 0;
  private readonly plans: Map<number, CrashPlan>;
  private resolvedCrashes: CrashPlan[] = [];
  private resolvedOps: HostOp[] = [];
  private log: { point: number; text: string }[] = [];
  private opStarts: number[] = [];
  private armedEnd = 0;
  private readonly events: RecordedEvent[] = [];
  /** While resuming: the next recorded event to replay; live once the crash is reached. */
  private replayAt: number | undefined;
  /** The engine object of a replayed open belongs to the recorded run: never disposed here. */
  private engineIsRecorded = false;

  constructor(
    private readonly factory: EngineFactory,
    private readonly c: Case,
    private readonly options: RunOptions,
  ) {
    this.geometry = c.geometry;
    this.sectorSize = c.geometry.sectorSize;
    this.plans = new Map(c.crashes.map((p) => [p.point, p]));
    if (options.resume !== undefined) this.replayAt = 0;
  }

  async run(): Promise<CaseRun> {
    let violation: Violation | undefined;
    try {
      await this.setUp();
      for (const op of this.c.workload) {
        this.opStarts.push(this.layer.nextPoint);
        await this.apply(op);
      }
      this.opStarts.push(this.layer.nextPoint);
      if (this.c.finish !== false) await this.finish();
    } catch (e) {
      if (!(e instanceof Stop)) throw e;
      violation = this.violation(e.finding);
    } finally {
      if (!this.engineIsRecorded) await this.engine?.dispose?.();
    }
    return {
      violations: violation === undefined ? [] : [violation],
      crashStates: this.crashStates,
      ioPoints: this.layer?.nextPoint ?? 0,
      resolved: this.resolvedCase(),
      transcript: this.options.transcript ? this.transcript() : [],
      trace: this.layer?.trace ?? [],
      opStarts: this.opStarts,
      armedEnd: this.c.finish === false ? (this.layer?.nextPoint ?? 0) : this.armedEnd,
      events: this.events,
    };
  }

  // --- set-up and recovery -------------------------------------------------------------------

  private async setUp(): Promise<void> {
    const backends = await formattedDevices(this.factory, this.c);
    this.source = this.replaying ? new Unconsulted() : new VolumeModel(this.sectorsOf(backends.source.bytes));
    this.clone = this.replaying ? new Unconsulted() : new VolumeModel(this.sectorsOf(backends.clone.bytes));
    this.layer = new FaultLayer(backends, { crashAt: [...this.plans.keys()], eio: this.c.eio }, this.options.seed, this.options.recordData);
    this.note('open the engine');
    await this.recover();
  }

  private sectorsOf(image: Uint8Array): string[] {
    const values = [];
    for (let o = 0; o < image.length; o += this.sectorSize) values.push(sectorValue(image.subarray(o, o + this.sectorSize)));
    return values;
  }

  /** Opens the engine until it opens: a crash inside recovery is another crash state. */
  private async recover(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const opened = await this.call(() => this.factory.open(this.layer.devices as RestoreDevices, this.geometry));
      if (opened.ok) {
        this.engine = opened.value;
        this.engineIsRecorded = this.replayAt !== undefined;
        return;
      }
      if (opened.crashed) {
        await this.powerLost();
        continue;
      }
      if (opened.faulted && attempt < 3) continue;
      if (opened.faulted) {
        // A medium error that never heals would block every engine: remove it and try once more.
        this.layer.disarm();
        continue;
      }
      throw new Stop(engineFailed('opening the engine', opened.error)[0]!);
    }
  }

  /** Power was lost (inside an operation or between two): survivors, model widening, restart. */
  private async powerLost(mode?: CacheMode, choice?: SurvivalChoice): Promise<void> {
    const point = this.layer.lastCrashPoint;
    const plan = point === undefined ? undefined : this.plans.get(point);
    const pending = this.layer.pending();
    const chosen = await this.layer.powerLoss(mode ?? plan?.mode ?? 'torn', choice ?? plan?.choice);
    if (point !== undefined && plan !== undefined) this.resolvedCrashes.push({ ...plan, choice: chosen });
    this.note(`POWER LOSS${point === undefined ? '' : ` at I/O point ${point}`}: ${describeSurvival(pending, chosen)}`);
    this.crashStates++;
    if (!this.engineIsRecorded) await this.engine?.dispose?.();
    this.engine = undefined;
    this.engineIsRecorded = false;
    this.source.crash();
    this.clone.crash();
    this.layer.restart();
    this.note('recovery: open the engine on the surviving images');
    return this.recover().then(() => this.afterRecovery());
  }

  /** After recovery: decide an interrupted start, then read everything back through the engine. */
  private async afterRecovery(): Promise<void> {
    this.note('check: the engine\'s status, then every sector read back through the engine');
    const status = await this.must('status after recovery', () => this.engine!.status());
    let rule: Finding['rule'] = 'reads-right';
    if (this.pendingStart !== undefined) {
      rule = 'atomic-start';
      await this.decideStart(status);
    } else if (this.phase === 'restoring' && status.state === 'fractured') {
      this.note('recovery found the restore complete');
      this.restoreEnded();
    } else if (this.phase === 'fractured' && status.state === 'restoring') {
      throw new Stop({ rule: 'atomic-start', message: 'after recovery the engine reports a restore in progress, but no restore was started since the last completion' });
    }
    await this.readAll('source', rule);
    if (this.phase === 'fractured') {
      await this.readAll('clone', rule);
      await this.checkDeltaCovers('after recovery');
    } else {
      await this.widenCopyAllowed();
    }
    if (this.phase === 'restoring' && this.protect) {
      const clone = await this.peek('clone');
      this.judge(() => cloneUnchanged(this.cloneAtStart!, clone, this.sectorSize, 'during the restore, as seen after recovery'));
    }
    this.checkRestoreTrace();
  }

  private async decideStart(status: EngineStatus): Promise<void> {
    const pending = this.pendingStart!;
    this.pendingStart = undefined;
    const { branch, findings } = startBranch(status, pending.protect);
    this.judge(() => findings);
    this.note(`the interrupted startRestore ${branch === 'restoring' ? 'took effect' : 'rolled back'}`);
    if (branch === 'restoring') await this.beginRestore(pending.protect, pending.cloneBefore);
  }

  // --- host operations -----------------------------------------------------------------------

  private async apply(op: HostOp): Promise<void> {
    switch (op.op) {
      case 'write':
        return this.write(op.volume, op.sector, op.sectors, op.pattern);
      case 'read':
        return this.read(op.volume, op.sector, op.sectors);
      case 'flush':
        return this.flush(op.volume);
      case 'startRestore':
        return this.startRestore(op.protect);
      case 'step':
        for (let i = 0; i < (op.count ?? 1) && this.phase === 'restoring'; i++) await this.step();
        return;
      case 'powerLoss': {
        this.note(`host: power loss (${op.mode})`);
        const choice = op.choice ?? this.layer.chooseCrashState(op.mode);
        this.resolvedOps.push({ ...op, choice });
        return this.powerLost(op.mode, choice);
      }
    }
  }

  private async write(volume: Volume, sector: number, sectors: number, pattern: number): Promise<void> {
    this.note(`host: write ${volume} sectors ${sector}..${sector + sectors - 1} (w${pattern})`);
    const data = () => hostWriteData(pattern, sector, sectors, this.sectorSize);
    const offset = sector * this.sectorSize;
    const mirrored = volume === 'source' && this.phase === 'restoring' && !this.protect;
    if (volume === 'source' && this.phase === 'restoring') this.noteHostWrite(offset, sectors * this.sectorSize);
    if (this.phase === 'fractured') this.writtenSinceRestore = true;
    const out = await this.call(() => (volume === 'source' ? this.engine!.writeSource(offset, data()) : this.engine!.writeClone(offset, data())));
    if (volume === 'clone' && this.phase === 'restoring') {
      if (out.ok) throw new Stop({ rule: 'clone-preserved', message: `writeClone was accepted during a restore (sectors ${sector}..${sector + sectors - 1}); it must fail with "clone busy"` });
      if (out.busy) return;
    }
    const model = volume === 'source' ? this.source : this.clone;
    const written = this.replaying ? new Uint8Array(0) : data();
    for (let i = 0; i < written.length / this.sectorSize; i++) {
      const value = sectorValue(written.subarray(i * this.sectorSize, (i + 1) * this.sectorSize));
      if (out.ok) model.write(sector + i, value);
      else model.uncertainWrite(sector + i, value);
      if (mirrored) {
        if (out.ok) this.clone.write(sector + i, value);
        else this.clone.uncertainWrite(sector + i, value);
      }
    }
    await this.settle(out, `writeSource`);
  }

  private async read(volume: Volume, sector: number, sectors: number): Promise<void> {
    this.note(`host: read ${volume} sectors ${sector}..${sector + sectors - 1}`);
    const offset = sector * this.sectorSize;
    const length = sectors * this.sectorSize;
    const out = await this.call(() => (volume === 'source' ? this.engine!.readSource(offset, length) : this.engine!.readClone(offset, length)));
    if (out.ok) this.judge(() => readMatchesModel(volume === 'source' ? this.source : this.clone, `a host read of the ${volume}`, sector, out.value, this.sectorSize));
    if (!out.ok && out.busy && volume === 'clone' && this.phase === 'restoring') return;
    await this.settle(out, `read${volume === 'source' ? 'Source' : 'Clone'}`);
  }

  private async flush(volume: Volume): Promise<void> {
    this.note(`host: flush ${volume}`);
    const out = await this.call(() => (volume === 'source' ? this.engine!.flushSource() : this.engine!.flushClone()));
    if (!out.ok && out.busy && volume === 'clone' && this.phase === 'restoring') return;
    if (out.ok) {
      if (volume === 'source') this.source.flush();
      // Unprotected, the clone carries the mirror of every source write: a source flush covers it.
      if (volume === 'clone' || (this.phase === 'restoring' && !this.protect)) this.clone.flush();
    }
    await this.settle(out, `flush${volume === 'source' ? 'Source' : 'Clone'}`);
  }

  private async startRestore(protect: boolean): Promise<void> {
    if (this.phase === 'restoring') return;
    this.note(`host: startRestore({ protect: ${protect} })`);
    this.pendingStart = { protect, cloneBefore: this.clone.clone() };
    this.restoreTraceFrom = this.layer.trace.length;
    const out = await this.call(() => this.engine!.startRestore({ protect }));
    if (out.ok) {
      this.pendingStart = undefined;
      await this.beginRestore(protect, this.clone);
      this.checkRestoreTrace();
      return;
    }
    if (out.crashed) return this.powerLost();
    if (!out.faulted) throw new Stop(engineFailed('startRestore', out.error)[0]!);
    const status = await this.must('status after a failed startRestore', () => this.engine!.status());
    // A crash while asking may already have decided the start, during recovery.
    if (this.pendingStart !== undefined) await this.decideStart(status);
  }

  private async step(): Promise<void> {
    this.note('engine: step');
    const out = await this.call(() => this.engine!.step());
    if (out.ok) {
      this.checkRestoreTrace();
      if (out.value.done) {
        this.note('the restore completed');
        this.restoreEnded();
      }
      return;
    }
    await this.settle(out, 'step');
  }

  /** A failed call: a crash is recovered from, an injected EIO is allowed, anything else is not. */
  private async settle(out: Outcome<unknown>, what: string): Promise<void> {
    this.checkRestoreTrace();
    if (out.ok || out.faulted) return;
    if (out.crashed) return this.powerLost();
    throw new Stop(engineFailed(what, out.error)[0]!);
  }

  // --- restore bookkeeping -------------------------------------------------------------------

  /**
   * A restore took effect with `cloneModel` as the clone's content: the clone is durable and the
   * source's logical content is the clone's, durably. The clone device must hold exactly that.
   */
  private async beginRestore(protect: boolean, cloneModel: VolumeModel): Promise<void> {
    this.phase = 'restoring';
    this.protect = protect;
    this.restoresStarted++;
    this.hostWritten = new Set();
    this.writtenSinceRestore = false;
    this.copyAllowed = undefined;
    this.clone = cloneModel;
    this.clone.flush();
    this.source.assignFrom(this.clone);
    const image = await this.peek('clone');
    this.judge(() => readMatchesModel(this.clone, 'the clone device at the start of the restore', 0, image, this.sectorSize, 'clone-preserved'));
    this.cloneAtStart = image;
    await this.captureDeltaAtStart();
  }

  private restoreEnded(): void {
    this.checkRestoreTrace();
    this.phase = 'fractured';
    this.copyAllowed = undefined;
  }

  private noteHostWrite(offset: number, length: number): void {
    const { first, last } = extentsOf(this.geometry, offset, length);
    for (let e = first; e <= last; e++) {
      this.hostWritten.add(e);
      this.copyAllowed?.add(e);
    }
  }

  private async captureDeltaAtStart(): Promise<void> {
    if (this.engine?.inspect === undefined) return;
    const maps = await this.must('inspect', () => this.engine!.inspect!());
    this.copyAllowed = new Set([...this.hostWritten]);
    maps.delta.forEach((bit, extent) => bit && this.copyAllowed!.add(extent));
  }

  /**
   * A D bit whose setting failed (an EIO on the metadata flush) may have reached the disk anyway,
   * so after a crash D at the start of the restore is known only up to such bits: the D bits
   * recovery finds are allowed too. Over-approximating D is allowed; under-approximating is not.
   */
  private async widenCopyAllowed(): Promise<void> {
    if (this.engine?.inspect === undefined || this.copyAllowed === undefined) return;
    const maps = await this.must('inspect', () => this.engine!.inspect!());
    maps.delta.forEach((bit, extent) => bit && this.copyAllowed!.add(extent));
  }

  /** Rules 1 and 5 over the device I/O issued since the last look. */
  private checkRestoreTrace(): void {
    const from = Math.max(this.traceChecked, this.phase === 'restoring' || this.pendingStart ? this.restoreTraceFrom : Infinity);
    const entries = this.layer.trace.slice(Math.min(from, this.layer.trace.length)).filter((e) => e.outcome !== 'eio');
    this.traceChecked = this.layer.trace.length;
    if (this.phase !== 'restoring' && this.pendingStart === undefined) return;
    const protect = this.pendingStart?.protect ?? this.protect;
    if (protect) this.judge(() => cloneWrites(entries));
    const allowed = this.copyAllowed;
    if (this.phase === 'restoring' && allowed !== undefined) this.judge(() => sourceWritesWithin(this.geometry, entries, allowed));
  }

  private async readAll(volume: Volume, rule: Finding['rule']): Promise<void> {
    const out = await this.call(() => (volume === 'source' ? this.engine!.readSource(0, this.geometry.volumeSize) : this.engine!.readClone(0, this.geometry.volumeSize)));
    if (out.ok) {
      this.judge(() => readMatchesModel(volume === 'source' ? this.source : this.clone, `a read of the whole ${volume} after recovery`, 0, out.value, this.sectorSize, rule));
      return;
    }
    await this.settle(out, `reading the whole ${volume} after recovery`);
  }

  private async checkDeltaCovers(when: string): Promise<void> {
    if (this.engine?.inspect === undefined) return;
    const maps = await this.must('inspect', () => this.engine!.inspect!());
    const [source, clone] = [await this.peek('source'), await this.peek('clone')];
    this.judge(() => deltaCoversDifferences(this.geometry, source, clone, maps.delta, when));
  }

  // --- the end of the case -------------------------------------------------------------------

  private async finish(): Promise<void> {
    if (this.phase === 'fractured' && this.restoresStarted === 0) await this.startRestore(true);
    if (this.phase === 'restoring') this.note('the workload is over: the copier steps until the restore completes');
    await this.runToCompletion();
    this.armedEnd = this.layer.nextPoint;
    this.layer.disarm();
    this.note('check: final flush, then the end rules');
    await this.must('the final flushSource', () => this.engine!.flushSource());
    await this.must('the final flushClone', () => this.engine!.flushClone());
    this.source.flush();
    this.clone.flush();
    const source = await this.peek('source');
    const clone = await this.peek('clone');
    this.judge(() => sourceMatchesModel(this.source, source, this.sectorSize));
    // Host writes after the completion (fractured again) may make the pair differ, legitimately.
    if (!this.protect && !this.writtenSinceRestore) this.judge(() => pairEqual(source, clone, this.sectorSize, 'restore-ends-right', 'after an unprotected restore'));
    const atStart = this.cloneAtStart;
    if (this.protect && atStart !== undefined && !this.writtenSinceRestore) this.judge(() => cloneUnchanged(atStart, clone, this.sectorSize, 'by the end of the protected restore'));
    await this.checkDeltaCovers('after the restore');
    // Rule 4, black box: a second restore with no host writes must leave the pair equal.
    this.note('check: a second restore with no host writes');
    await this.must('the second startRestore', () => this.engine!.startRestore({ protect: true }));
    await this.beginRestore(true, this.clone);
    await this.runToCompletion();
    await this.must('flushSource after the second restore', () => this.engine!.flushSource());
    const [after, cloneAfter] = [await this.peek('source'), await this.peek('clone')];
    this.judge(() => pairEqual(after, cloneAfter, this.sectorSize, 'delta-map-sound', 'after a second restore with no host writes'));
  }

  /** Steps until the restore completes; each recovery restarts the count (rule 6). */
  private async runToCompletion(): Promise<void> {
    const bound = stepBound(this.geometry);
    let steps = 0;
    let faults = 0;
    let remaining = 0;
    while (this.phase === 'restoring') {
      if (steps++ >= bound) throw new Stop(noProgress(bound, remaining)[0]!);
      const before = this.crashStates;
      // Noted like a workload's step, so a transcript (and the HTML report) shows where recovery ends.
      this.note('engine: step');
      const out = await this.call(() => this.engine!.step());
      if (out.ok) {
        remaining = out.value.remaining;
        this.checkRestoreTrace();
        if (out.value.done) {
          this.note('the restore completed');
          this.restoreEnded();
        }
        continue;
      }
      // A medium error that never heals (a sticky EIO on the clone) would block every engine:
      // after a few failed steps the harness removes it, and the count starts over.
      if (out.faulted && ++faults >= 3) {
        this.layer.disarm();
        faults = 0;
        steps = 0;
      }
      await this.settle(out, 'step');
      if (this.crashStates !== before) steps = 0;
    }
  }

  // --- plumbing ------------------------------------------------------------------------------

  private async call<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
    if (this.replayAt !== undefined) return this.replayCall() as Promise<Outcome<T>>;
    const before = this.options.record ? this.snapshot() : undefined;
    const outcome = await this.liveCall(fn);
    if (before !== undefined) this.events.push({ kind: 'call', outcome, traceEnd: this.layer.trace.length, before });
    return outcome;
  }

  /**
   * The next recorded call, replayed: its I/O goes into the trace as it was, and its outcome is
   * returned as it was, until the call in which the crash point falls. There the devices take the
   * crash state, the call fails as a crash, and the run goes on live.
   */
  private async replayCall(): Promise<Outcome<unknown>> {
    const resume = this.options.resume!;
    const event = resume.events[this.replayAt!++];
    if (event?.kind !== 'call') throw new Error('resuming: the recorded run made no call here; the checker is not deterministic');
    const entries = resume.trace.slice(this.layer.trace.length, event.traceEnd);
    const crashAt = entries.findIndex((e) => e.point >= resume.point);
    if (crashAt < 0) {
      this.layer.replayTrace(entries);
      return event.outcome;
    }
    this.layer.replayTrace(entries.slice(0, crashAt));
    this.restore(event.before);
    await this.layer.enterCrash({ entry: entries[crashAt]!, durable: resume.durable, pending: resume.pending });
    this.replayAt = undefined;
    return { ok: false, crashed: true, faulted: false, busy: false, error: new CrashError(resume.point) };
  }

  private get replaying(): boolean {
    return this.replayAt !== undefined;
  }

  private snapshot(): CheckerState {
    return {
      source: this.source.clone(),
      clone: this.clone.clone(),
      phase: this.phase,
      protect: this.protect,
      restoresStarted: this.restoresStarted,
      cloneAtStart: this.cloneAtStart,
      copyAllowed: this.copyAllowed === undefined ? undefined : new Set(this.copyAllowed),
      hostWritten: new Set(this.hostWritten),
      writtenSinceRestore: this.writtenSinceRestore,
      restoreTraceFrom: this.restoreTraceFrom,
      traceChecked: this.traceChecked,
      pendingStart: this.pendingStart === undefined ? undefined : { protect: this.pendingStart.protect, cloneBefore: this.pendingStart.cloneBefore.clone() },
      crashStates: this.crashStates,
      resolvedCrashes: [...this.resolvedCrashes],
      resolvedOps: [...this.resolvedOps],
      log: [...this.log],
      opStarts: [...this.opStarts],
      armedEnd: this.armedEnd,
    };
  }

  /** Takes over a recorded state; copies, since many crash states resume from the same one. */
  private restore(s: CheckerState): void {
    this.source = s.source.clone();
    this.clone = s.clone.clone();
    this.phase = s.phase;
    this.protect = s.protect;
    this.restoresStarted = s.restoresStarted;
    this.cloneAtStart = s.cloneAtStart;
    this.copyAllowed = s.copyAllowed === undefined ? undefined : new Set(s.copyAllowed);
    this.hostWritten = new Set(s.hostWritten);
    this.writtenSinceRestore = s.writtenSinceRestore;
    this.restoreTraceFrom = s.restoreTraceFrom;
    this.traceChecked = s.traceChecked;
    this.pendingStart = s.pendingStart === undefined ? undefined : { protect: s.pendingStart.protect, cloneBefore: s.pendingStart.cloneBefore.clone() };
    this.crashStates = s.crashStates;
    this.resolvedCrashes = [...s.resolvedCrashes];
    this.resolvedOps = [...s.resolvedOps];
    this.log = [...s.log];
    this.opStarts = [...s.opStarts];
    this.armedEnd = s.armedEnd;
  }

  /** The cached view of a device, for a check: recorded, and replayed while resuming. */
  private async peek(device: DeviceName): Promise<Uint8Array> {
    if (this.replayAt !== undefined) {
      const event = this.options.resume!.events[this.replayAt++];
      if (event?.kind !== 'peek') throw new Error('resuming: the recorded run took no image here; the checker is not deterministic');
      return event.bytes;
    }
    const bytes = await this.layer.peek(device);
    if (this.options.record) this.events.push({ kind: 'peek', bytes });
    return bytes;
  }

  private async liveCall<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
    const traceFrom = this.layer.trace.length;
    try {
      return { ok: true, value: await fn() };
    } catch (error) {
      // An engine that broke the contract itself (a protocol error, a hang) is bad input, not a rule it failed.
      if (error instanceof EngineMisbehaviourError) throw error;
      const crashed = this.layer.isDown || error instanceof CrashError;
      const faulted = this.layer.trace.slice(traceFrom).some((e) => e.outcome === 'eio');
      const busy = error instanceof CloneBusyError || (error instanceof Error && error.name === 'CloneBusyError');
      return { ok: false, crashed, faulted, busy, error };
    }
  }

  /** A call the harness needs to succeed (status, inspect, the final checks). */
  private async must<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let faults = 0; ; ) {
      const out = await this.call(fn);
      if (out.ok) return out.value;
      if (out.crashed) {
        await this.powerLost();
        continue;
      }
      // An injected error may repeat (a medium error): after a few, the harness removes it.
      if (out.faulted && ++faults >= 3) this.layer.disarm();
      if (out.faulted) continue;
      throw new Stop(engineFailed(what, out.error)[0]!);
    }
  }

  /** A rule's check, skipped while a recorded prefix is replayed (it held when it was recorded). */
  private judge(findings: () => readonly Finding[]): void {
    if (!this.replaying) this.check(findings());
  }

  private check(findings: readonly Finding[]): void {
    if (findings.length > 0) throw new Stop(findings[0]!);
  }

  private note(text: string): void {
    if (this.options.transcript) this.log.push({ point: this.layer?.nextPoint ?? 0, text });
  }

  private resolvedCase(): Case {
    const byPoint = new Map(this.resolvedCrashes.map((p) => [p.point, p]));
    let powerLosses = 0;
    return {
      ...this.c,
      crashes: this.c.crashes.map((p) => byPoint.get(p.point) ?? p),
      workload: this.c.workload.map((op) => (op.op === 'powerLoss' ? (this.resolvedOps[powerLosses++] ?? op) : op)),
    };
  }

  private violation(f: Finding): Violation {
    const lines = this.options.traceLines ?? 12;
    return {
      ...f,
      trace: this.layer === undefined ? [] : this.layer.trace.slice(-lines).map(formatTraceEntry),
      replay: replayCommand(this.options.engineArgs ?? unnamedEngineArgs(this.factory.name), this.resolvedCase(), this.options.seed),
    };
  }

  private transcript(): string[] {
    const out: string[] = [];
    let i = 0;
    for (const entry of this.layer?.trace ?? []) {
      while (i < this.log.length && this.log[i]!.point <= entry.point) out.push(this.log[i++]!.text);
      out.push(`  ${formatTraceEntry(entry)}`);
    }
    while (i < this.log.length) out.push(this.log[i++]!.text);
    return out;
  }
}
