import * as nodeFs from 'node:fs/promises';
import { type BlockDevice, checkDeviceShape, checkIo, type WriteOptions } from './block-device.js';

/** The slice of a promise-based file system the file backend needs: node's and memfs's both fit. */
export interface FileHandleLike {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  stat(): Promise<{ size: number | bigint }>;
  close(): Promise<void>;
}

export interface FileSystemLike {
  open(path: string, flags: string): Promise<FileHandleLike>;
}

/**
 * A device stored in a file, read and written at positions. `flush` is `datasync`, and a FUA write
 * is a write followed by `datasync`, so acknowledged means on the medium as far as the OS can say.
 */
export class FileDevice implements BlockDevice {
  private constructor(
    private readonly handle: FileHandleLike,
    readonly size: number,
    readonly sectorSize: number,
    readonly name: string,
  ) {}

  /** Opens an existing image; its size must be a whole number of sectors. */
  static async open(fs: FileSystemLike, path: string, sectorSize = 512, options: { readOnly?: boolean } = {}): Promise<FileDevice> {
    const handle = await fs.open(path, options.readOnly ? 'r' : 'r+');
    try {
      const size = Number((await handle.stat()).size);
      checkDeviceShape(path, size, sectorSize);
      return new FileDevice(handle, size, sectorSize, path);
    } catch (e) {
      await handle.close();
      throw e;
    }
  }

  /** Creates (or truncates) an image of `size` zero bytes. */
  static async create(fs: FileSystemLike, path: string, size: number, sectorSize = 512): Promise<FileDevice> {
    checkDeviceShape(path, size, sectorSize);
    const handle = await fs.open(path, 'w+');
    await handle.truncate(size);
    return new FileDevice(handle, size, sectorSize, path);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    // Checked before allocating, so a bad length is an IoRangeError, not a RangeError.
    checkIo(this.name, this, 'read', offset, length);
    const bytes = new Uint8Array(length);
    await this.readInto(offset, bytes);
    return bytes;
  }

  /** Fills `bytes` from `offset`: for callers that reuse their buffers (src/images/buffer-pool.ts). */
  async readInto(offset: number, bytes: Uint8Array): Promise<void> {
    const length = bytes.length;
    checkIo(this.name, this, 'read', offset, length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(bytes, done, length - done, offset + done);
      if (bytesRead === 0) throw new Error(`${this.name}: read at offset ${offset + done}: unexpected end of file`);
      done += bytesRead;
    }
  }

  async write(offset: number, data: Uint8Array, options?: WriteOptions): Promise<void> {
    checkIo(this.name, this, 'write', offset, data.length);
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
    if (options?.fua) await this.handle.datasync();
  }

  async flush(): Promise<void> {
    await this.handle.datasync();
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** The local file system, for real image files. */
export const localFs: FileSystemLike = nodeFs as unknown as FileSystemLike;
