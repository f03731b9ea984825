/**
 * A window of another device: the engine's metadata region lives after the image tool's own
 * header in one file, and the engine must neither see nor be able to touch that header.
 */
import { type BlockDevice, checkDeviceShape, checkIo, type WriteOptions } from '../devices/block-device.js';

export class OffsetDevice implements BlockDevice {
  readonly sectorSize: number;

  constructor(
    private readonly inner: BlockDevice,
    private readonly offset: number,
    readonly size: number,
    readonly name = 'window',
  ) {
    this.sectorSize = inner.sectorSize;
    checkDeviceShape(name, size, this.sectorSize);
    if (offset % this.sectorSize !== 0 || offset < 0 || offset + size > inner.size) {
      throw new Error(`${name}: window ${offset}+${size} is not sector-aligned inside a device of ${inner.size} bytes`);
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkIo(this.name, this, 'read', offset, length);
    return this.inner.read(this.offset + offset, length);
  }

  async write(offset: number, data: Uint8Array, options?: WriteOptions): Promise<void> {
    checkIo(this.name, this, 'write', offset, data.length);
    return this.inner.write(this.offset + offset, data, options);
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }
}
