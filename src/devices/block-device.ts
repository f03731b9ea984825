/**
 * The block device every part of the product speaks: the engine issues I/O on it, the backends
 * store it, the fault layer wraps it. Offsets and lengths are bytes and must be whole sectors:
 * a real disk has no smaller atomic unit, and the crash model (docs/fault-model.md) is defined per sector.
 */
import { InputError } from '../errors.js';

export interface WriteOptions {
  /** Force unit access: the write is durable when it is acknowledged, cache or no cache. */
  readonly fua?: boolean;
}

export interface BlockDevice {
  /** Size in bytes, a whole number of sectors. */
  readonly size: number;
  /** The atomic unit: a sector is never half old, half new after a crash. */
  readonly sectorSize: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  write(offset: number, data: Uint8Array, options?: WriteOptions): Promise<void>;
  /** Every acknowledged write becomes durable. */
  flush(): Promise<void>;
}

export type IoOp = 'read' | 'write' | 'flush';

/** I/O that is not sector-aligned or falls outside the device: a caller bug, never retried. */
export class IoRangeError extends Error {
  constructor(
    readonly device: string,
    readonly op: IoOp,
    readonly offset: number,
    readonly length: number,
    reason: string,
  ) {
    super(`${device}: ${op} at offset ${offset}, length ${length}: ${reason}`);
    this.name = 'IoRangeError';
  }
}

/** Rejects I/O a real disk would reject, naming the offset, the length and why. */
export function checkIo(name: string, device: Pick<BlockDevice, 'size' | 'sectorSize'>, op: IoOp, offset: number, length: number): void {
  const fail = (reason: string): never => {
    throw new IoRangeError(name, op, offset, length, reason);
  };
  if (!Number.isSafeInteger(offset) || offset < 0) fail('offset must be a non-negative integer');
  if (!Number.isSafeInteger(length) || length <= 0) fail('length must be a positive integer');
  if (offset % device.sectorSize !== 0) fail(`offset is not a multiple of the sector size ${device.sectorSize}`);
  if (length % device.sectorSize !== 0) fail(`length is not a multiple of the sector size ${device.sectorSize}`);
  if (offset + length > device.size) fail(`I/O ends at ${offset + length}, past the device size ${device.size}`);
}

/** A geometry check shared by every backend: a device is a whole number of sectors. */
export function checkDeviceShape(name: string, size: number, sectorSize: number): void {
  if (!Number.isSafeInteger(sectorSize) || sectorSize <= 0 || sectorSize % 512 !== 0) {
    throw new InputError(`${name}: sector size ${sectorSize} must be a positive multiple of 512`);
  }
  if (!Number.isSafeInteger(size) || size <= 0 || size % sectorSize !== 0) {
    throw new InputError(`${name}: size ${size} must be a positive multiple of the sector size ${sectorSize}`);
  }
}
