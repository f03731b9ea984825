/**
 * A device whose system-call failures name the file they hit. An ENOSPC or EIO from deep inside
 * a restore otherwise reaches the user as `ENOSPC: no space left on device, write`, with nothing
 * to say whether the source, the clone or the metadata file ran out of room. The error keeps its
 * code (so it is still known as the disk's problem, not a bug) and gains the file as `path`.
 */
import type { BlockDevice, WriteOptions } from '../devices/block-device.js';

export class NamedDevice implements BlockDevice {
  readonly size: number;
  readonly sectorSize: number;

  constructor(
    private readonly inner: BlockDevice,
    /** `source image`, `clone image`, `metadata file`. */
    readonly what: string,
    readonly path: string,
  ) {
    this.size = inner.size;
    this.sectorSize = inner.sectorSize;
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return this.inner.read(offset, length).catch((e: unknown) => this.fail(e, `read at byte ${offset}`));
  }

  write(offset: number, data: Uint8Array, options?: WriteOptions): Promise<void> {
    return this.inner.write(offset, data, options).catch((e: unknown) => this.fail(e, `write at byte ${offset}`));
  }

  flush(): Promise<void> {
    return this.inner.flush().catch((e: unknown) => this.fail(e, 'flush'));
  }

  private fail(e: unknown, op: string): never {
    const err = e as NodeJS.ErrnoException;
    if (typeof err?.code !== 'string') throw e;
    const named: NodeJS.ErrnoException = new Error(`${this.what} ${this.path}: ${op}: ${err.message}`, { cause: e });
    named.code = err.code;
    named.path = this.path;
    throw named;
  }
}
