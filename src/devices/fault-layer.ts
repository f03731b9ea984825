/**
 * The fault model (docs/fault-model.md), whole, in one file.
 *
 * A `FaultLayer` wraps the backends of one run (source, clone, metadata) and hands the engine
 * `BlockDevice`s that behave like disks with volatile write caches. Its options:
 *
 * - **Volatile write cache.** A write is acknowledged into the device's cache and reads see it.
 *   `flush()` makes every cached write of that device durable (applies it to the backend). A write
 *   with `fua` is applied to the backend before it is acknowledged, and survives every crash.
 * - **I/O points.** Every read, write and flush on any device of the layer takes the next number of
 *   one global counter: 0, 1, 2, …. The counter runs on across crashes and restarts, so a point
 *   names one operation of the whole run.
 * - **Crash at point k** (`FaultPlan.crashAt`). Operation k never completes and rejects with
 *   `CrashError`; every handle the engine holds is dead from then on (every call rejects, and is
 *   not numbered). A write at k enters the cache unacknowledged: it may survive torn.
 * - **What survives** is decided by `powerLoss(mode)`, with the layer's seeded generator, or by
 *   an explicit `SurvivalChoice` (replay, exhaustive search):
 *     - `drop`   no cached write survives: the durable view;
 *     - `keep`   every acknowledged cached write survives: the view reads saw before the crash
 *                (the write in flight at k, never acknowledged, is lost);
 *     - `subset` each cached write, the one in flight included, survives whole or not at all;
 *     - `torn`   each sector of each cached write survives on its own (the default).
 *   Surviving writes are applied in issue order, so a sector cached several times ends with its
 *   durable value or one of its cached values; a sector is never half old, half new, because the
 *   sector is the unit of every choice.
 * - **I/O errors** (`FaultPlan.eio`). Operation k rejects with `EioError` and has no effect.
 *   Transient: only that operation fails. Sticky (reads and writes): the sector range of operation
 *   k keeps failing reads until a write covers it again, as a medium error does; a sticky flush is
 *   transient, since a flush has no range.
 * - **Operations in flight together** (`inFlight`, off by default: then each operation completes
 *   as it is issued, in issue order). The device completes the operations in flight in an order
 *   drawn from the seed or a script (./completion-order.ts); a write is acknowledged (enters the
 *   cache, reads see it) when it completes; a flush makes durable the writes acknowledged before
 *   it was issued, and no others; a read returns what the cache holds when it completes. A crash
 *   with several operations in flight leaves each of their writes in flight (it may survive
 *   whole, torn or not at all, as for the write at k) and rejects them all. `completionOrder`
 *   records every decision, so the order can be replayed, shrunk and enumerated.
 * - **Trace.** Every numbered operation is recorded (point, device, op, range, FUA, digest of the
 *   data, outcome), and with `recordData` the written bytes too, so a crash state can be derived
 *   from the record instead of by running the engine again.
 *
 * Nothing here reads the clock or an unseeded random source: the layer's only randomness is its seed.
 */
import { InputError, knownOptions, wholeOption } from '../errors.js';
import { type BlockDevice, checkIo, type IoOp, type WriteOptions } from './block-device.js';
import { CompletionOrder, settle } from './completion-order.js';
import { DEFAULT_PROFILE, type DeviceProfile, durableWhenAcknowledged, tearUnits } from './device-profile.js';
import { latentError, silentWriteFault, type SilentWriteFault } from './silent-faults.js';
import type { MemoryDevice } from './memory-device.js';
import { digest, type Rng, seededRng } from './rng.js';

export type CacheMode = 'drop' | 'keep' | 'subset' | 'torn';
export const CACHE_MODES: readonly CacheMode[] = ['drop', 'keep', 'subset', 'torn'];

export type DeviceName = 'source' | 'clone' | 'meta';
export const DEVICE_NAMES: readonly DeviceName[] = ['source', 'clone', 'meta'];

export interface EioFault {
  readonly point: number;
  readonly sticky: boolean;
}

export interface FaultPlan {
  /** I/O points at which power is lost (several crashes in one run are several points). */
  readonly crashAt?: readonly number[];
  readonly eio?: readonly EioFault[];
}

export interface TraceEntry {
  readonly point: number;
  readonly device: DeviceName;
  readonly op: IoOp;
  readonly offset: number;
  readonly length: number;
  readonly fua: boolean;
  /** Digest of the bytes written or read (empty for a flush). */
  readonly digest: string;
  /** `unfinished`: still in flight when power was lost (only with `inFlight`; the crash is elsewhere). */
  readonly outcome: 'ok' | 'eio' | 'crash' | 'unfinished';
  /** The bytes written, when the layer records data. */
  readonly data?: Uint8Array;
  /** With `inFlight`: the operation was the n-th to complete (0-based) since the layer was made. */
  readonly done?: number;
  /** A write the device acknowledged and never made (profile `lostWriteRate`). */
  readonly lost?: true;
  /** A write the device made at this offset instead of its own (profile `misdirectedWriteRate`). */
  readonly landed?: number;
}

/** A device fault the engine was not told of, or was told of too late (./device-profile.ts). */
export interface SilentFault {
  readonly point: number;
  readonly device: DeviceName;
  readonly kind: 'lost' | 'misdirected' | 'flush-lost';
  /** The sectors (bytes) the fault left wrong: a lost write's range; a misdirected write's range and where it landed. */
  readonly damaged: readonly { readonly offset: number; readonly length: number }[];
}

/** Operations in flight together, completed in a seeded order (off when absent: issue order). */
export interface InFlightOptions {
  /** Decisions to take first, as `CompletionOrder` counts them (a recorded order); the seed decides the rest. */
  readonly order?: readonly number[];
}

/** An operation issued with `inFlight` on and not yet completed. */
interface Issued extends Pick<TraceEntry, 'point' | 'device' | 'op' | 'offset' | 'length' | 'fua'> {
  readonly data: Uint8Array | undefined;
  /** A flush: the writes acknowledged when it was issued, which it must make durable. */
  readonly acknowledged: ReadonlySet<CachedWrite> | undefined;
  readonly resolve: (bytes: Uint8Array | undefined) => void;
  readonly reject: (error: unknown) => void;
}

/** Power was lost: the operation never completed and the handle is dead. */
export class CrashError extends Error {
  constructor(readonly point: number | undefined) {
    super(point === undefined ? 'power lost: this device handle is dead' : `power lost at I/O point ${point}`);
    this.name = 'CrashError';
  }
}

/** An EIO-style device error. */
export class EioError extends Error {
  constructor(
    readonly point: number,
    readonly device: DeviceName,
    readonly op: IoOp,
    readonly offset: number,
    readonly length: number,
    readonly sticky: boolean,
  ) {
    super(`EIO at I/O point ${point}: ${device} ${op}` + (op === 'flush' ? '' : ` of ${length} bytes at offset ${offset}`) + (sticky ? ' (medium error)' : ''));
    this.name = 'EioError';
  }
}

/** A write sitting in a volatile cache. */
export interface CachedWrite {
  readonly device: DeviceName;
  readonly point: number;
  readonly offset: number;
  readonly data: Uint8Array;
  /** FUA writes are already durable and survive every crash. */
  readonly fua: boolean;
  /** The write in flight when power was lost: never acknowledged. */
  readonly inFlight: boolean;
}

/**
 * Exactly what survived one crash: the cached writes (by I/O point) that reached the medium, and
 * for a torn write which of its sectors (indices within the write). FUA writes are not listed:
 * they always survive. Every other cached write not listed was lost.
 */
export interface SurvivalChoice {
  readonly mode: CacheMode;
  readonly survivors: readonly { readonly point: number; readonly sectors?: readonly number[] }[];
}

/** The cache of one device over its durable backend. Pure state: no numbering, no faults. */
export class VolatileCache {
  private writes: CachedWrite[] = [];
  /** Counts the changes to the view reads see (a write in flight or a flush changes nothing there): a peek of an unchanged device is the last one again. */
  changes = 0;

  constructor(
    readonly device: DeviceName,
    readonly backend: BlockDevice,
  ) {}

  get pending(): readonly CachedWrite[] {
    return this.writes;
  }

  /**
   * The cached view: the backend overlaid with every acknowledged cached write, in issue order. The
   * write in flight at a crash was never acknowledged, so no read saw it.
   */
  async read(offset: number, length: number): Promise<Uint8Array> {
    const bytes = await this.backend.read(offset, length);
    for (const w of this.writes) if (!w.inFlight) overlay(bytes, offset, w.data, w.offset, undefined, this.backend.sectorSize);
    return bytes;
  }

  /**
   * Caches a write. The entry is added before anything is awaited, so the cache holds writes in the
   * order of their I/O points even when operations overlap; a FUA write then goes to the backend.
   */
  async write(point: number, offset: number, data: Uint8Array, fua: boolean, inFlight = false): Promise<void> {
    if (inFlight) return this.addInFlight(point, offset, data);
    const copy = data.slice();
    this.changes++;
    this.writes.push({ device: this.device, point, offset, data: copy, fua, inFlight: false });
    if (fua) await this.backend.write(offset, copy, { fua: true });
  }

  /** The write in flight when power is lost: cached, never acknowledged, never durable (synchronous). */
  addInFlight(point: number, offset: number, data: Uint8Array): void {
    this.writes.push(inFlightWrite(this.device, point, offset, data));
  }

  /** A flush failed on a device that then forgets what it covered: every acknowledged write is gone. */
  discardAcknowledged(): void {
    this.changes++;
    this.writes = this.writes.filter((w) => w.inFlight);
  }

  /** Replaces the cache with writes recorded elsewhere (a crash state derived from a trace). */
  preload(writes: readonly CachedWrite[]): void {
    this.changes++;
    this.writes = writes.filter((w) => w.device === this.device).map((w) => ({ ...w }));
  }

  /**
   * Every cached write to the medium, in issue order. FUA writes are written again too: they are
   * already durable, but skipping them would let an older cached write to the same sector land over
   * them.
   */
  async flush(): Promise<void> {
    for (const w of this.writes) await this.backend.write(w.offset, w.data);
    this.writes = [];
    await this.backend.flush();
  }

  /**
   * A flush issued while other writes were in flight: `acknowledged` (the writes cached when it was
   * issued) to the medium, in cache order; writes acknowledged since stay cached.
   */
  async flushAcknowledged(acknowledged: ReadonlySet<CachedWrite>): Promise<void> {
    const flushed = this.writes.filter((w) => acknowledged.has(w));
    this.changes++;
    this.writes = this.writes.filter((w) => !acknowledged.has(w));
    for (const w of flushed) await this.backend.write(w.offset, w.data);
    // Until here reads missed the flushed writes: a peek taken meanwhile is not the view now.
    this.changes++;
    await this.backend.flush();
  }

  /**
   * Power loss: the backend keeps its durable bytes plus what `choice` says survived, applied in
   * issue order (FUA writes again too, so an older cached write cannot land over them).
   */
  async applyCrash(choice: SurvivalChoice): Promise<void> {
    for (const w of survivingWrites(this.writes, choice, this.backend.sectorSize)) await this.backend.write(w.offset, w.data);
    this.changes++;
    this.writes = [];
    await this.backend.flush();
  }
}

/** The write in flight at a crash: cached, never acknowledged, so never durable, FUA or not. */
function inFlightWrite(device: DeviceName, point: number, offset: number, data: Uint8Array): CachedWrite {
  return { device, point, offset, data: data.slice(), fua: false, inFlight: true };
}

/**
 * The writes a crash leaves on the medium, in issue order: the FUA writes again (so an older cached
 * write cannot land over them) and what `choice` says survived, whole or sector by sector.
 */
export function survivingWrites(pending: readonly CachedWrite[], choice: SurvivalChoice, sectorSize: number): { offset: number; data: Uint8Array }[] {
  const byPoint = new Map(choice.survivors.map((s) => [s.point, s.sectors]));
  const out = [];
  for (const w of pending) {
    const durable = isDurable(w);
    if (!durable && !byPoint.has(w.point)) continue;
    const sectors = durable ? undefined : byPoint.get(w.point);
    if (sectors === undefined) out.push({ offset: w.offset, data: w.data });
    // A choice recorded against one engine's I/O may be replayed against another's (a regression
    // file run on the reference engine): sectors past the end of this write name nothing here.
    else for (const s of sectors) if (s >= 0 && (s + 1) * sectorSize <= w.data.length) out.push({ offset: w.offset + s * sectorSize, data: w.data.subarray(s * sectorSize, (s + 1) * sectorSize) });
  }
  return out;
}

/** The images a crash leaves: each durable image with what `choice` says survived of its cached writes. */
export function imagesAfterCrash(durable: Readonly<Record<DeviceName, Uint8Array>>, pending: readonly CachedWrite[], choice: SurvivalChoice, sectorSize: number): Record<DeviceName, Uint8Array> {
  const image = (device: DeviceName) => {
    const bytes = durable[device].slice();
    for (const w of survivingWrites(pending.filter((p) => p.device === device), choice, sectorSize)) bytes.set(w.data, w.offset);
    return bytes;
  };
  return { source: image('source'), clone: image('clone'), meta: image('meta') };
}

/** Copies the sectors of `src` (at `srcOffset` on the device) that fall inside `dst` (at `dstOffset`). */
function overlay(dst: Uint8Array, dstOffset: number, src: Uint8Array, srcOffset: number, sectors: readonly number[] | undefined, sectorSize: number): void {
  const lo = Math.max(dstOffset, srcOffset);
  const hi = Math.min(dstOffset + dst.length, srcOffset + src.length);
  if (lo >= hi) return;
  if (sectors === undefined) {
    dst.set(src.subarray(lo - srcOffset, hi - srcOffset), lo - dstOffset);
    return;
  }
  for (const s of sectors) {
    const start = srcOffset + s * sectorSize;
    if (start >= lo && start < hi) dst.set(src.subarray(start - srcOffset, start - srcOffset + sectorSize), start - dstOffset);
  }
}

/** Cached writes a crash may or may not keep: everything but acknowledged FUA writes. */
export function eligibleWrites(pending: readonly CachedWrite[]): CachedWrite[] {
  return pending.filter((w) => !isDurable(w));
}

/** A FUA write that was acknowledged is on the medium. The write in flight at a crash never was, FUA or not. */
function isDurable(w: CachedWrite): boolean {
  return w.fua && !w.inFlight;
}

function sectorsOf(w: CachedWrite, sectorSize: number): number {
  return w.data.length / sectorSize;
}

/** The one deterministic choice of `drop` and `keep`. */
function fixedChoice(mode: 'drop' | 'keep', pending: readonly CachedWrite[]): SurvivalChoice {
  return {
    mode,
    survivors: mode === 'drop' ? [] : eligibleWrites(pending).filter((w) => !w.inFlight).map((w) => ({ point: w.point })),
  };
}

/** One crash state drawn with `rng`, as `powerLoss` does when no choice is given. */
export function chooseCrashState(pending: readonly CachedWrite[], mode: CacheMode, sectorSize: number, rng: Rng): SurvivalChoice {
  if (mode === 'drop' || mode === 'keep') return fixedChoice(mode, pending);
  const eligible = eligibleWrites(pending);
  if (mode === 'subset') return { mode, survivors: eligible.filter(() => rng.bool()).map((w) => ({ point: w.point })) };
  const survivors = [];
  for (const w of eligible) {
    const sectors = [];
    for (let s = 0; s < sectorsOf(w, sectorSize); s++) if (rng.bool()) sectors.push(s);
    if (sectors.length > 0) survivors.push({ point: w.point, sectors });
  }
  return { mode, survivors };
}

/** `torn` on a device that writes `atomicWriteBytes` atomically: each aligned unit of each write survives whole or not. */
function tornInUnits(pending: readonly CachedWrite[], sectorSize: number, atomicWriteBytes: number, rng: Rng): SurvivalChoice {
  const survivors = [];
  for (const w of eligibleWrites(pending)) {
    const sectors = tearUnits(w.offset / sectorSize, sectorsOf(w, sectorSize), sectorSize, atomicWriteBytes).flatMap((unit) => (rng.bool() ? unit : []));
    if (sectors.length > 0) survivors.push({ point: w.point, sectors });
  }
  return { mode: 'torn', survivors };
}

export interface EnumerationOptions {
  /** Enumerate every combination when there are at most this many independent units; else sample. */
  readonly exhaustiveUpTo: number;
  /** How many seeded draws to take when there are too many combinations to enumerate. */
  readonly sampleSize: number;
}

export const DEFAULT_ENUMERATION: EnumerationOptions = { exhaustiveUpTo: 8, sampleSize: 32 };

/**
 * Every crash state of `mode` for these cached writes: the one state of `drop` and `keep`; for
 * `subset` every subset of the cached writes, for `torn` every subset of their sectors, while there
 * are at most `exhaustiveUpTo` units (writes, resp. sectors), else `sampleSize` seeded draws.
 * `exhaustive` says which it was, for the coverage report.
 */
export function enumerateCrashStates(
  pending: readonly CachedWrite[],
  mode: CacheMode,
  sectorSize: number,
  rng: Rng,
  options: EnumerationOptions = DEFAULT_ENUMERATION,
  /** The device's atomic write unit (./device-profile.ts): `torn` tears between whole units only. */
  atomicWriteBytes = sectorSize,
): { choices: SurvivalChoice[]; exhaustive: boolean; possible: number } {
  if (mode === 'drop' || mode === 'keep') return { choices: [fixedChoice(mode, pending)], exhaustive: true, possible: 1 };
  const eligible = eligibleWrites(pending);
  const units: { point: number; sectors?: number[] }[] =
    mode === 'subset'
      ? eligible.map((w) => ({ point: w.point }))
      : eligible.flatMap((w) => tearUnits(w.offset / sectorSize, sectorsOf(w, sectorSize), sectorSize, atomicWriteBytes).map((sectors) => ({ point: w.point, sectors })));
  const possible = 2 ** units.length;
  const toChoice = (mask: (i: number) => boolean): SurvivalChoice => {
    const survivors: { point: number; sectors?: number[] }[] = [];
    units.forEach((u, i) => {
      if (!mask(i)) return;
      if (u.sectors === undefined) {
        survivors.push({ point: u.point });
        return;
      }
      const last = survivors[survivors.length - 1];
      if (last?.point === u.point) last.sectors!.push(...u.sectors);
      else survivors.push({ point: u.point, sectors: [...u.sectors] });
    });
    return { mode, survivors };
  };
  if (units.length <= options.exhaustiveUpTo) {
    const choices = [];
    for (let m = 0; m < possible; m++) choices.push(toChoice((i) => ((m >> i) & 1) === 1));
    return { choices, exhaustive: true, possible };
  }
  const choices = [];
  for (let n = 0; n < options.sampleSize; n++) {
    const bits = units.map(() => rng.bool());
    choices.push(toChoice((i) => bits[i]!));
  }
  return { choices, exhaustive: false, possible };
}

/** Says in words what survived, for reports: "writes at points 41 and 44 survived, 43 was lost". */
export function describeSurvival(pending: readonly CachedWrite[], choice: SurvivalChoice): string {
  const eligible = eligibleWrites(pending);
  if (eligible.length === 0) return 'no cached write was pending';
  const chosen = new Map(choice.survivors.map((s) => [s.point, s.sectors]));
  const kept: string[] = [];
  const lost: string[] = [];
  for (const w of eligible) {
    const label = `${w.device}@${w.point}${w.inFlight ? ' (in flight)' : ''}`;
    if (!chosen.has(w.point)) lost.push(label);
    else {
      const sectors = chosen.get(w.point);
      kept.push(sectors === undefined ? label : `${label} sectors [${sectors.join(',')}]`);
    }
  }
  const list = (xs: string[]) => (xs.length === 1 ? xs[0]! : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`);
  const parts = [];
  if (kept.length > 0) parts.push(`${kept.length === 1 ? 'write' : 'writes'} at ${list(kept)} survived`);
  if (lost.length > 0) parts.push(`${list(lost)} ${lost.length === 1 ? 'was' : 'were'} lost`);
  return `${choice.mode}: ${parts.join(', ')}`;
}

/** The fault layer's input from code, checked: each wrong part named. */
function checkLayerInput(backends: Record<DeviceName, BlockDevice>, plan: FaultPlan, seed: string): void {
  for (const d of DEVICE_NAMES) {
    const b = backends?.[d] as Partial<BlockDevice> | undefined;
    if (typeof b !== 'object' || b === null || typeof b.read !== 'function' || typeof b.write !== 'function' || typeof b.flush !== 'function') {
      throw new InputError(`FaultLayer: backends.${d} must be a BlockDevice (size, sectorSize, read, write, flush)`);
    }
  }
  if (typeof plan !== 'object' || plan === null) throw new InputError('FaultLayer: plan must be an object');
  knownOptions('FaultLayer: plan', plan, ['crashAt', 'eio']);
  if (plan.crashAt !== undefined && !Array.isArray(plan.crashAt)) throw new InputError('FaultLayer: plan.crashAt must be an array of I/O points');
  (plan.crashAt ?? []).forEach((p, i) => wholeOption(`FaultLayer: plan.crashAt[${i}]`, p, 0, Number.MAX_SAFE_INTEGER));
  if (plan.eio !== undefined && !Array.isArray(plan.eio)) throw new InputError('FaultLayer: plan.eio must be an array of { point, sticky }');
  (plan.eio ?? []).forEach((f, i) => {
    wholeOption(`FaultLayer: plan.eio[${i}].point`, f?.point, 0, Number.MAX_SAFE_INTEGER);
    if (typeof f.sticky !== 'boolean') throw new InputError(`FaultLayer: plan.eio[${i}].sticky must be true or false`);
  });
  if (typeof seed !== 'string') throw new InputError(`FaultLayer: seed must be a string, not ${typeof seed}`);
}

/** `inFlight` from code, checked: the recorded order's decisions are whole numbers. */
function checkInFlight(inFlight: InFlightOptions): readonly number[] {
  if (typeof inFlight !== 'object' || inFlight === null) throw new InputError('FaultLayer: inFlight must be an object');
  knownOptions('FaultLayer: inFlight', inFlight, ['order']);
  if (inFlight.order !== undefined && !Array.isArray(inFlight.order)) throw new InputError('FaultLayer: inFlight.order must be an array of decisions');
  (inFlight.order ?? []).forEach((d, i) => wholeOption(`FaultLayer: inFlight.order[${i}]`, d, 0, 1 << 20));
  return inFlight.order ?? [];
}

/**
 * The devices of a recorded run, rebuilt from its trace without the engine: each recorded I/O is
 * played onto the device's `VolatileCache` as the layer did it live, so the devices at any I/O
 * point (durable images, cached writes, the write in flight) follow the very rules a live crash
 * does. Exhaustive search derives every crash state of a run this way (`recordData` traces).
 */
export class RecordedDevices {
  private readonly caches: Record<DeviceName, VolatileCache>;
  /** A copy of the durable images as they are now; dropped when a flush or FUA write changes them. */
  private durable: Record<DeviceName, Uint8Array> | undefined;

  /** `backends`: the devices as they were before the run; they are played onto from here on. */
  constructor(
    private readonly backends: Readonly<Record<DeviceName, MemoryDevice>>,
    /** The devices' profile, as the live layer had it: it decides what a recorded FUA write did. */
    private readonly profile: DeviceProfile = DEFAULT_PROFILE,
  ) {
    this.caches = { source: new VolatileCache('source', backends.source), clone: new VolatileCache('clone', backends.clone), meta: new VolatileCache('meta', backends.meta) };
  }

  /** One recorded I/O, with the effect it had: a write cached (and, FUA, made durable), a flush. */
  async play(entry: TraceEntry): Promise<void> {
    const cache = this.caches[entry.device];
    if (entry.outcome === 'eio' && entry.op === 'flush' && this.profile.failedFlush === 'loses-data') cache.discardAcknowledged();
    if (entry.outcome !== 'ok' || entry.lost === true) return;
    // What is durable changes only here: the durable images kept for crash points drop with it.
    if (entry.op === 'flush' || entry.fua) this.durable = undefined;
    if (entry.op === 'write') {
      if (entry.data === undefined) throw new Error(`the trace holds no data for the write at I/O point ${entry.point}: record it with recordData`);
      await cache.write(entry.point, entry.landed ?? entry.offset, entry.data, durableWhenAcknowledged(this.profile, entry.fua));
    } else if (entry.op === 'flush') {
      await cache.flush();
    }
  }

  /** Power lost between two I/Os, with `choice` saying what survived. */
  async powerLoss(choice: SurvivalChoice): Promise<void> {
    this.durable = undefined;
    for (const d of DEVICE_NAMES) await this.caches[d].applyCrash(choice);
  }

  /**
   * The devices as a crash at the I/O `entry` records would leave them before survivors are chosen
   * (with no `entry`, between I/Os): a copy of the durable images and the cached writes, a write
   * at the crash point among them in flight. Crash points between the same flushes share one
   * copy of the durable images: nobody changes it.
   */
  crashAt(entry: TraceEntry | undefined): { durable: Record<DeviceName, Uint8Array>; pending: CachedWrite[] } {
    const pending = DEVICE_NAMES.flatMap((d) => [...this.caches[d].pending]).sort((a, b) => a.point - b.point);
    if (entry?.op === 'write' && entry.data !== undefined) pending.push(inFlightWrite(entry.device, entry.point, entry.offset, entry.data));
    const { source, clone, meta } = this.backends;
    this.durable ??= { source: source.bytes.slice(), clone: clone.bytes.slice(), meta: meta.bytes.slice() };
    return { durable: this.durable, pending };
  }
}

/**
 * One run's simulated disks: numbering, crash and EIO injection, caches and trace.
 * `devices` are the live handles; after a crash they are dead until `restart()`.
 */
export class FaultLayer {
  readonly trace: TraceEntry[] = [];
  private readonly caches: Record<DeviceName, VolatileCache>;
  /** The last peek of each device, and the cache's change count when it was taken. */
  private readonly peeked: Partial<Record<DeviceName, { readonly changes: number; readonly bytes: Uint8Array }>> = {};
  /** Made at the first draw: most runs never draw, and seeding the generator is not free. */
  private rng: Rng | undefined;
  private readonly crashPoints: Set<number>;
  private readonly eio: Map<number, boolean>;
  private readonly sticky: Record<DeviceName, { offset: number; length: number }[]> = { source: [], clone: [], meta: [] };
  private point = 0;
  private epoch = 0;
  private crashedAt: number | undefined;
  private down = false;
  /** Set by `powerLoss`: what survived is decided, so `restart` may bring the devices back. */
  private lost = false;
  /** With `inFlight`: the order operations complete in, the operations in flight, the completion under way. */
  readonly completionOrder: CompletionOrder | undefined;
  private readonly issued: Issued[] = [];
  private completing: Promise<void> | undefined;
  private completingInFlight = false;
  private completed = 0;
  /** Faults the profile made that the engine was not told of (or only later): what the oracle may excuse. */
  readonly silentFaults: SilentFault[] = [];
  /** Set by `disarm`: the profile's seeded faults stop too. */
  private silentOff = false;
  devices: Record<DeviceName, BlockDevice>;

  constructor(
    backends: Record<DeviceName, BlockDevice>,
    plan: FaultPlan = {},
    private readonly seed = 'prestore',
    private readonly recordData = false,
    inFlight?: InFlightOptions,
    /** How the devices behave (./device-profile.ts); the default profile when absent. */
    private readonly profile: DeviceProfile = DEFAULT_PROFILE,
  ) {
    checkLayerInput(backends, plan, seed);
    if (inFlight === undefined && profile.inFlight) inFlight = {};
    if (inFlight !== undefined) this.completionOrder = new CompletionOrder(seededRng(`${seed}/completion-order`), checkInFlight(inFlight));
    this.caches = { source: new VolatileCache('source', backends.source), clone: new VolatileCache('clone', backends.clone), meta: new VolatileCache('meta', backends.meta) };
    this.crashPoints = new Set(plan.crashAt ?? []);
    this.eio = new Map((plan.eio ?? []).map((f) => [f.point, f.sticky]));
    this.devices = this.handles();
  }

  /** The number the next operation will take. */
  get nextPoint(): number {
    return this.point;
  }

  /** True from a crash until `restart()`. */
  get isDown(): boolean {
    return this.down;
  }

  /** The point at which the last crash happened, if it happened inside an operation. */
  get lastCrashPoint(): number | undefined {
    return this.crashedAt;
  }

  /**
   * The cached view of a whole device, as a read would see it, without taking an I/O point. While
   * the device does not change, every peek returns the same bytes (a whole image copied per check
   * was a tenth of exhaust on a 2 MiB volume): read them, never change them.
   */
  async peek(device: DeviceName): Promise<Uint8Array> {
    const cache = this.caches[device];
    const last = this.peeked[device];
    if (last?.changes === cache.changes) return last.bytes;
    // Counted before the read: a change while it runs makes the next peek read again.
    const changes = cache.changes;
    const bytes = await cache.read(0, cache.backend.size);
    this.peeked[device] = { changes, bytes };
    return bytes;
  }

  /** No more planned faults: crash points, EIO plans and medium errors are all cleared. */
  disarm(): void {
    this.crashPoints.clear();
    this.eio.clear();
    for (const d of DEVICE_NAMES) this.sticky[d] = [];
    this.silentOff = true;
  }

  /** The writes sitting in the caches of every device now, in issue order. */
  pending(): CachedWrite[] {
    return DEVICE_NAMES.flatMap((d) => [...this.caches[d].pending]).sort((a, b) => a.point - b.point);
  }

  /** A crash state drawn from the layer's seed, for `mode`. */
  chooseCrashState(mode: CacheMode): SurvivalChoice {
    this.rng ??= seededRng(this.seed);
    const sectorSize = this.caches.source.backend.sectorSize;
    if (mode === 'torn' && this.profile.atomicWriteBytes > sectorSize) return tornInUnits(this.pending(), sectorSize, this.profile.atomicWriteBytes, this.rng);
    return chooseCrashState(this.pending(), mode, sectorSize, this.rng);
  }

  /**
   * Power loss now (after a `CrashError`, or between operations): the caches are lost but for what
   * `choice` says survived (drawn for `mode` when not given). Handles die; `restart()` makes new ones.
   */
  async powerLoss(mode: CacheMode, choice?: SurvivalChoice): Promise<SurvivalChoice> {
    if (this.completing !== undefined) await this.completing;
    this.abandonInFlight();
    const chosen = choice ?? this.chooseCrashState(mode);
    this.down = true;
    this.lost = true;
    this.epoch++;
    for (const d of DEVICE_NAMES) await this.caches[d].applyCrash(chosen);
    return chosen;
  }

  /**
   * Trace entries of a recorded run, taken over as if these operations had just run: the numbering
   * goes on after them. Used with `enterCrash` to reach a crash state without running the engine.
   */
  replayTrace(entries: readonly TraceEntry[]): void {
    for (const e of entries) {
      this.trace.push(e);
      // The medium errors those operations left, as `begin` and `heal` left them live: a crash
      // state after a sticky EIO still finds the sectors failing.
      if (e.outcome === 'eio' && e.op !== 'flush' && this.eio.get(e.point) === true) this.sticky[e.device].push({ offset: e.offset, length: e.length });
      if (e.outcome === 'ok' && e.op === 'write') this.heal(e.device, e.offset, e.length);
      this.noteSilentFault(e);
    }
    if (entries.length > 0) this.point = entries[entries.length - 1]!.point + 1;
  }

  /**
   * The layer as a run leaves it when it crashes at `point`: the durable images and the cached
   * writes (the one in flight included) a recorded run had there, the crash entry traced, the
   * devices down until `powerLoss` decides what survives. Exhaustive search derives these from one
   * recorded run instead of running the engine up to every point again.
   */
  async enterCrash(crash: { readonly entry: TraceEntry; readonly durable: Readonly<Record<DeviceName, Uint8Array>>; readonly pending: readonly CachedWrite[] }): Promise<void> {
    for (const d of DEVICE_NAMES) {
      await this.caches[d].backend.write(0, crash.durable[d]);
      this.caches[d].preload(crash.pending);
    }
    // Traced as `begin` traces a crash: a read's bytes never arrived, so it has no digest.
    const { point, device, op, offset, length, fua, digest: written } = crash.entry;
    this.replayTrace([{ point, device, op, offset, length, fua, digest: op === 'write' ? written : '', outcome: 'crash' }]);
    this.down = true;
    this.crashedAt = crash.entry.point;
  }

  /** Power back on: fresh handles on the surviving images; numbering goes on where it was. */
  restart(plan?: FaultPlan): Record<DeviceName, BlockDevice> {
    if (!this.down) throw new Error('restart without a power loss');
    if (!this.lost) throw new Error(`restart after the crash at I/O point ${this.crashedAt} before powerLoss() decided what survived it`);
    for (const p of plan?.crashAt ?? []) this.crashPoints.add(p);
    for (const f of plan?.eio ?? []) this.eio.set(f.point, f.sticky);
    this.down = false;
    this.lost = false;
    this.crashedAt = undefined;
    this.devices = this.handles();
    return this.devices;
  }

  private handles(): Record<DeviceName, BlockDevice> {
    return { source: this.handle('source'), clone: this.handle('clone'), meta: this.handle('meta') };
  }

  private handle(device: DeviceName): BlockDevice {
    const cache = this.caches[device];
    const epoch = this.epoch;
    const { size, sectorSize } = cache.backend;
    const alive = () => {
      if (this.down || epoch !== this.epoch) throw new CrashError(undefined);
    };
    return {
      size,
      sectorSize,
      read: async (offset, length) => {
        alive();
        checkIo(device, cache.backend, 'read', offset, length);
        if (this.completionOrder !== undefined) return (await this.issue(device, 'read', offset, length, false))!;
        const point = this.begin(device, 'read', offset, length, false);
        const bytes = await cache.read(offset, length);
        this.record(point, device, 'read', offset, length, false, bytes, 'ok');
        return bytes;
      },
      write: async (offset, data, options?: WriteOptions) => {
        alive();
        checkIo(device, cache.backend, 'write', offset, data.length);
        const fua = options?.fua === true;
        if (this.completionOrder !== undefined) return void (await this.issue(device, 'write', offset, data.length, fua, data));
        // Nothing is awaited before `begin`: the write takes its number in call order, and at a
        // crash point it is cached in flight before any other operation can run.
        if (this.crashPoints.has(this.point)) cache.addInFlight(this.point, offset, data);
        const point = this.begin(device, 'write', offset, data.length, fua, data);
        this.heal(device, offset, data.length);
        const fault = this.silentWriteFault(device, point, offset, data.length);
        if (fault?.lost !== true) await cache.write(point, fault?.landed ?? offset, data, durableWhenAcknowledged(this.profile, fua));
        this.record(point, device, 'write', offset, data.length, fua, data, 'ok', undefined, fault);
      },
      flush: async () => {
        alive();
        if (this.completionOrder !== undefined) return void (await this.issue(device, 'flush', 0, 0, false));
        const point = this.begin(device, 'flush', 0, 0, false);
        await cache.flush();
        this.record(point, device, 'flush', 0, 0, false, undefined, 'ok');
      },
    };
  }

  /** Numbers an operation and injects the planned fault, if any, before it takes effect. */
  private begin(device: DeviceName, op: IoOp, offset: number, length: number, fua: boolean, data?: Uint8Array): number {
    const point = this.point++;
    if (this.crashPoints.has(point)) {
      this.abandonInFlight();
      this.record(point, device, op, offset, length, fua, data, 'crash');
      this.down = true;
      this.crashedAt = point;
      throw new CrashError(point);
    }
    const planned = this.eio.get(point) ?? (op === 'read' && this.latentError(device, point, offset, length) ? true : undefined);
    const badRange = op === 'read' && this.sticky[device].some((r) => r.offset < offset + length && offset < r.offset + r.length);
    if (planned !== undefined || badRange) {
      const sticky = op !== 'flush' && (planned === true || badRange);
      if (planned === true && sticky) this.sticky[device].push({ offset, length });
      this.record(point, device, op, offset, length, fua, data, 'eio');
      if (op === 'flush' && this.profile.failedFlush === 'loses-data') this.caches[device].discardAcknowledged();
      throw new EioError(point, device, op, offset, length, sticky);
    }
    return point;
  }

  /**
   * An operation issued with `inFlight` on: numbered and faulted as ever (a write at a crash point
   * is in flight with the rest), then in flight until the device completes it (`completeInFlight`).
   */
  private issue(device: DeviceName, op: IoOp, offset: number, length: number, fua: boolean, data?: Uint8Array): Promise<Uint8Array | undefined> {
    if (op === 'write' && this.crashPoints.has(this.point)) this.caches[device].addInFlight(this.point, offset, data!);
    const point = this.begin(device, op, offset, length, fua, data);
    if (op === 'write') this.heal(device, offset, length);
    const acknowledged = op === 'flush' ? new Set(this.caches[device].pending) : undefined;
    const done = new Promise<Uint8Array | undefined>((resolve, reject) => {
      this.issued.push({ point, device, op, offset, length, fua, data: data?.slice(), acknowledged, resolve, reject });
    });
    // An engine that drops an operation's promise must not bring the process down when a crash rejects it.
    done.catch(() => undefined);
    if (!this.completingInFlight) void this.completeInFlight();
    return done;
  }

  /**
   * The device at work: once the engine has issued what it issues alongside (`settle`), one
   * operation in flight completes, chosen by `completionOrder`; and again, while any are in flight.
   */
  private async completeInFlight(): Promise<void> {
    this.completingInFlight = true;
    for (;;) {
      await settle();
      if (this.issued.length === 0) {
        this.completingInFlight = false;
        return;
      }
      const next = this.issued.splice(this.completionOrder!.pick(this.issued.length), 1)[0]!;
      this.completing = this.complete(next);
      await this.completing;
      this.completing = undefined;
    }
  }

  private async complete(io: Issued): Promise<void> {
    const cache = this.caches[io.device];
    let bytes: Uint8Array | undefined;
    let fault: SilentWriteFault | undefined;
    try {
      if (io.op === 'read') bytes = await cache.read(io.offset, io.length);
      else if (io.op === 'write') {
        fault = this.silentWriteFault(io.device, io.point, io.offset, io.length);
        if (fault?.lost !== true) await cache.write(io.point, fault?.landed ?? io.offset, io.data!, durableWhenAcknowledged(this.profile, io.fua));
      } else await cache.flushAcknowledged(io.acknowledged!);
    } catch (error) {
      // A backend that fails (a real file): the operation fails, as it would have completing in order.
      io.reject(error);
      return;
    }
    this.record(io.point, io.device, io.op, io.offset, io.length, io.fua, io.op === 'flush' ? undefined : (bytes ?? io.data), 'ok', this.completed++, fault);
    io.resolve(bytes);
  }

  /** Power lost with operations in flight: their writes may survive as the write at a crash does; none completes. */
  private abandonInFlight(): void {
    for (const io of this.issued.splice(0)) {
      if (io.op === 'write') this.caches[io.device].addInFlight(io.point, io.offset, io.data!);
      this.record(io.point, io.device, io.op, io.offset, io.length, io.fua, io.op === 'write' ? io.data : undefined, 'unfinished');
      io.reject(new CrashError(undefined));
    }
  }

  /** A write over a medium error remaps it: the rewritten sectors read again. */
  private heal(device: DeviceName, offset: number, length: number): void {
    if (this.sticky[device].length === 0) return;
    this.sticky[device] = healed(this.sticky[device], offset, length);
  }

  /** The profile's seeded read fault: a latent error where the read reaches the medium. */
  private latentError(device: DeviceName, point: number, offset: number, length: number): boolean {
    if (this.silentOff || !latentError(this.profile, this.seed, point)) return false;
    const sectorSize = this.caches[device].backend.sectorSize;
    for (let s = offset; s < offset + length; s += sectorSize) {
      if (!this.caches[device].pending.some((w) => !w.inFlight && w.offset <= s && s < w.offset + w.data.length)) return true;
    }
    return false;
  }

  /** The profile's seeded write fault for an acknowledged write, if any. */
  private silentWriteFault(device: DeviceName, point: number, offset: number, length: number): SilentWriteFault | undefined {
    if (this.silentOff) return undefined;
    const { size, sectorSize } = this.caches[device].backend;
    return silentWriteFault(this.profile, this.seed, point, offset, length, size, sectorSize);
  }

  /** Keeps the silent fault a traced operation records, live or replayed. */
  private noteSilentFault(e: TraceEntry): void {
    // Every traced I/O passes here: nothing is allocated unless the device failed silently.
    if (e.lost === true) this.silentFaults.push({ point: e.point, device: e.device, kind: 'lost', damaged: [{ offset: e.offset, length: e.length }] });
    else if (e.landed !== undefined) this.silentFaults.push({ point: e.point, device: e.device, kind: 'misdirected', damaged: [{ offset: e.offset, length: e.length }, { offset: e.landed, length: e.length }] });
    else if (e.op === 'flush' && e.outcome === 'eio' && this.profile.failedFlush === 'loses-data') this.silentFaults.push({ point: e.point, device: e.device, kind: 'flush-lost', damaged: [] });
  }

  private record(point: number, device: DeviceName, op: IoOp, offset: number, length: number, fua: boolean, data: Uint8Array | undefined, outcome: TraceEntry['outcome'], done?: number, fault?: SilentWriteFault): void {
    // Built in place, not spread: every traced I/O passes here, and the usual entry (no `done`, no
    // silent fault, no data) keeps one shape.
    const entry: Mutable<TraceEntry> = { point, device, op, offset, length, fua, digest: data === undefined ? '' : digest(data), outcome };
    if (done !== undefined) entry.done = done;
    if (fault?.lost !== undefined) entry.lost = fault.lost;
    if (fault?.landed !== undefined) entry.landed = fault.landed;
    this.noteSilentFault(entry);
    if (this.recordData && op === 'write' && data !== undefined) entry.data = data.slice();
    // Overlapping operations finish out of order; the trace stays in point order all the same.
    let at = this.trace.length;
    while (at > 0 && this.trace[at - 1]!.point > point) at--;
    if (at === this.trace.length) this.trace.push(entry);
    else this.trace.splice(at, 0, entry);
  }
}

/** Medium errors once a write covered `offset..offset+length`: the rewritten sectors read again. */
export function healed(errors: readonly ByteRange[], offset: number, length: number): ByteRange[] {
  const end = offset + length;
  return errors.flatMap((r) => {
    const rEnd = r.offset + r.length;
    if (rEnd <= offset || r.offset >= end) return [r];
    const left = r.offset < offset ? [{ offset: r.offset, length: offset - r.offset }] : [];
    const right = rEnd > end ? [{ offset: end, length: rEnd - end }] : [];
    return [...left, ...right];
  });
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

/** One trace line, for reports: `#12 meta write 1024+512 fua a1b2c3d4`. */
export function formatTraceEntry(e: TraceEntry): string {
  const range = e.op === 'flush' ? '' : ` ${e.offset}+${e.length}`;
  const flags = `${e.fua ? ' fua' : ''}${e.digest ? ` ${e.digest}` : ''}${e.outcome === 'ok' ? '' : ` ${e.outcome.toUpperCase()}`}${e.done === undefined ? '' : ` done#${e.done}`}${e.lost === true ? ' LOST' : ''}${e.landed === undefined ? '' : ` MISDIRECTED to ${e.landed}`}`;
  return `#${e.point} ${e.device} ${e.op}${range}${flags}`;
}
