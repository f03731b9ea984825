/**
 * A device whose writes stay in memory: reads see them, the device below never does. Opening an
 * engine is recovery, and recovery may write; `status` and the pre-checks of `restore` open the
 * engine over overlays so that looking at a pair can never change it.
 */
import { type BlockDevice, checkIo, type WriteOptions } from '../devices/block-device.js';

export class OverlayDevice implements BlockDevice {
  readonly size: number;
  readonly sectorSize: number;
  /** Written sectors by index; only what recovery writes (a few map sectors), so small. */
  private readonly sectors = new Map<number, Uint8Array>();

  constructor(
    private readonly inner: BlockDevice,
    readonly name = 'overlay',
  ) {
    this.size = inner.size;
    this.sectorSize = inner.sectorSize;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkIo(this.name, this, 'read', offset, length);
    const bytes = await this.inner.read(offset, length);
    if (this.sectors.size === 0) return bytes;
    for (let at = 0; at < length; at += this.sectorSize) {
      const own = this.sectors.get((offset + at) / this.sectorSize);
      if (own !== undefined) bytes.set(own, at);
    }
    return bytes;
  }

  async write(offset: number, data: Uint8Array, _options?: WriteOptions): Promise<void> {
    checkIo(this.name, this, 'write', offset, data.length);
    for (let at = 0; at < data.length; at += this.sectorSize) {
      this.sectors.set((offset + at) / this.sectorSize, data.slice(at, at + this.sectorSize));
    }
  }

  async flush(): Promise<void> {}
}
