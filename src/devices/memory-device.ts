import { InputError } from '../errors.js';
import { type BlockDevice, checkDeviceShape, checkIo, type WriteOptions } from './block-device.js';

/** A device held in a Uint8Array: every write is durable at once (the fault layer adds the cache). */
export class MemoryDevice implements BlockDevice {
  readonly size: number;

  constructor(
    readonly bytes: Uint8Array,
    readonly sectorSize = 512,
    readonly name = 'memory',
  ) {
    if (!(bytes instanceof Uint8Array)) throw new InputError(`${name}: the bytes must be a Uint8Array`);
    checkDeviceShape(name, bytes.length, sectorSize);
    this.size = bytes.length;
  }

  static zeroed(size: number, sectorSize = 512, name = 'memory'): MemoryDevice {
    checkDeviceShape(name, size, sectorSize);
    return new MemoryDevice(new Uint8Array(size), sectorSize, name);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkIo(this.name, this, 'read', offset, length);
    return this.bytes.slice(offset, offset + length);
  }

  async write(offset: number, data: Uint8Array, _options?: WriteOptions): Promise<void> {
    checkIo(this.name, this, 'write', offset, data.length);
    this.bytes.set(data, offset);
  }

  async flush(): Promise<void> {}
}
