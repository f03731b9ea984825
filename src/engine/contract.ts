/**
 * The engine contract: what a restore engine implements, ours or a vendor's. The harness reaches
 * an engine through these types only, so a vendor engine plugs in where the reference engine does.
 * `inspect()` is the one optional, white-box window. What each call must guarantee, in full:
 * docs/contract.md; the disks it runs on: docs/fault-model.md; the checks: docs/oracle.md.
 */
import type { BlockDevice } from '../devices/block-device.js';
import { InputError } from '../errors.js';

export interface Geometry {
  /** Bytes in each of source and clone: a whole number of sectors. */
  readonly volumeSize: number;
  /** Bytes in a sector, the atomic unit (512 by default). */
  readonly sectorSize: number;
  /** Sectors in an extent, the unit of both maps; the last extent may be shorter. */
  readonly extentSectors: number;
}

/** The three devices the harness hands an engine; the engine lays out `meta` as it likes. */
export interface RestoreDevices {
  readonly source: BlockDevice;
  readonly clone: BlockDevice;
  readonly meta: BlockDevice;
}

/** How the fractured pair starts: which extents the delta map marks as possibly different. */
export type InitialDelta = 'none' | 'all' | readonly boolean[];

export type EngineStatus =
  | { readonly state: 'fractured' }
  | { readonly state: 'restoring'; readonly protect: boolean; readonly extentsRemaining: number };

export interface StepResult {
  /**
   * Extents still to copy after this step; 0 once the restore has completed. Informational: a
   * step may return 0 with `done: false` (the next one commits completion). docs/contract.md#step
   */
  readonly remaining: number;
  /** True once the restore has completed and the pair is fractured again: the harness stops stepping. */
  readonly done: boolean;
}

/** The engine's two persistent maps, one boolean per extent. */
export interface EngineMaps {
  /** Clone delta map: a clear bit promises source and clone are equal in that extent. */
  readonly delta: readonly boolean[];
  /** Protected restore map: extents the host wrote during the current restore. */
  readonly protected: readonly boolean[];
}

/**
 * An open engine. Every call is async and may reject with a device error; none may corrupt
 * state. Offsets and lengths are bytes, whole sectors. docs/contract.md#the-engine
 */
export interface RestoreEngine {
  /** Always. During a restore, clone data wherever the host has not written, copied or not. */
  readSource(offset: number, length: number): Promise<Uint8Array>;
  /** Always. Acknowledged: later reads see it; durable after the next `flushSource`. */
  writeSource(offset: number, data: Uint8Array): Promise<void>;
  /** Always. Every acknowledged source write durable (unprotected restore: the clone's mirror too). */
  flushSource(): Promise<void>;
  /** Fractured; during a restore reject with CloneBusyError (or return the clone's data). */
  readClone(offset: number, length: number): Promise<Uint8Array>;
  /** Fractured only; during a restore it must reject with CloneBusyError. */
  writeClone(offset: number, data: Uint8Array): Promise<void>;
  /** Fractured; during a restore reject with CloneBusyError (or succeed). */
  flushClone(): Promise<void>;
  /**
   * Fractured only. Durable on return: a later crash resumes the restore, never rolls it back.
   * `protect: false` mirrors host source writes to the clone, and the pair ends equal.
   * docs/contract.md#what-protect-false-means
   */
  startRestore(options: { readonly protect: boolean }): Promise<void>;
  /** One unit of background copying; never called while fractured. docs/contract.md#step */
  step(): Promise<StepResult>;
  status(): Promise<EngineStatus>;
  /** Optional white-box view of the persistent maps, for rules 4 and 5 (docs/oracle.md). */
  inspect?(): Promise<EngineMaps>;
  /**
   * Optional: the harness is done with this instance (it crashed, or the run ended). An
   * out-of-process engine ends its process here; an in-process one may omit it.
   */
  dispose?(): Promise<void>;
}

/** What a module hands the harness: how to size, create and open (= recover) an engine. */
export interface EngineFactory {
  readonly name: string;
  /** Bytes the metadata device must have for this geometry. */
  metadataSize(geometry: Geometry): number;
  /**
   * Writes fresh metadata for a fractured pair whose delta map is `delta`. Called once, before
   * any fault is injected; `'none'` is only passed when source and clone are byte-identical.
   */
  format(devices: RestoreDevices, geometry: Geometry, delta: InitialDelta): Promise<void>;
  /**
   * Opens a formatted device set. This is recovery: a restore in progress resumes. When a
   * metadata read fails, reject and write nothing; untrusted metadata: MetadataError.
   * docs/contract.md#what-open-must-do
   */
  open(devices: RestoreDevices, geometry: Geometry): Promise<RestoreEngine>;
  /**
   * Optional: the same engine tuned by `options` (batch sizes, I/O sizes, queue depths: names the
   * engine chooses). A case that sets `engineOptions` runs on the factory this returns, so the
   * harness can crash every configuration the engine ships with. Unknown names and values out of
   * range are refused with InputError naming them. docs/contract.md#engine-options
   */
  withOptions?(options: EngineOptions): EngineFactory;
  /**
   * Optional: factories of this same engine that can each serve an instance while the others do
   * (an out-of-process engine: a process each), the first being this one's own. A campaign then
   * checks that many crash states alongside each other, each lane's one after another in the
   * campaign's order, and takes the results in that order: the same verdict as one at a time, in
   * less time when a crash state waits on the engine more than on the harness.
   */
  lanes?(): readonly EngineFactory[];
}

/** Tuning for one engine, by option name: each a whole number. */
export type EngineOptions = Readonly<Record<string, number>>;

/** Host I/O to the clone while a restore owns it. */
export class CloneBusyError extends Error {
  constructor(op: string) {
    super(`clone busy: ${op} is not allowed while a restore is in progress`);
    this.name = 'CloneBusyError';
  }
}

/** An operation called in a state that does not allow it (startRestore while restoring, say). */
export class EngineStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineStateError';
  }
}

export { MetadataError } from '../errors.js';

export function extentCount(geometry: Geometry): number {
  const sectors = geometry.volumeSize / geometry.sectorSize;
  return Math.ceil(sectors / geometry.extentSectors);
}

export function extentBytes(geometry: Geometry): number {
  return geometry.extentSectors * geometry.sectorSize;
}

/** The byte range of extent `index`, the last one clipped to the volume. */
export function extentRange(geometry: Geometry, index: number): { offset: number; length: number } {
  const offset = index * extentBytes(geometry);
  return { offset, length: Math.min(extentBytes(geometry), geometry.volumeSize - offset) };
}

/** The extents a byte range touches, first to last inclusive. */
export function extentsOf(geometry: Geometry, offset: number, length: number): { first: number; last: number } {
  const bytes = extentBytes(geometry);
  return { first: Math.floor(offset / bytes), last: Math.floor((offset + length - 1) / bytes) };
}

/** Rejects a geometry no engine could serve, naming the field. */
export function checkGeometry(geometry: Geometry): void {
  const { volumeSize, sectorSize, extentSectors } = geometry;
  if (!Number.isSafeInteger(sectorSize) || sectorSize <= 0 || sectorSize % 512 !== 0) {
    throw new InputError(`geometry.sectorSize: ${sectorSize} must be a positive multiple of 512`);
  }
  if (!Number.isSafeInteger(volumeSize) || volumeSize <= 0 || volumeSize % sectorSize !== 0) {
    throw new InputError(`geometry.volumeSize: ${volumeSize} must be a positive multiple of the sector size ${sectorSize}`);
  }
  if (!Number.isSafeInteger(extentSectors) || extentSectors <= 0) {
    throw new InputError(`geometry.extentSectors: ${extentSectors} must be a positive integer`);
  }
}
