/**
 * Both images compared byte for byte: `init --compare` takes the delta map from it, `verify` the
 * verdict. Both are read in large chunks (two fixed buffers each, whatever the image or extent
 * size), and an extent's bit is set when any byte of it differs, so the map is exact, never
 * under-approximate.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { extentBytes, extentCount, type Geometry } from '../engine/contract.js';

const CHUNK = 8 << 20;

async function readFully(handle: FileHandle, buffer: Buffer, length: number, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw new Error(`${path}: unexpected end of file at ${position + done}`);
    done += bytesRead;
  }
}

export interface Comparison {
  /** One boolean per extent: true where the two images differ. */
  readonly delta: boolean[];
  /** The offset of the first byte that differs; undefined when the images are equal. */
  readonly firstDifference: number | undefined;
}

/** `onProgress` hears bytes compared. */
export async function compareImages(sourcePath: string, clonePath: string, geometry: Geometry, onProgress?: (done: number) => void): Promise<Comparison> {
  const size = geometry.volumeSize;
  const per = extentBytes(geometry);
  const delta = new Array<boolean>(extentCount(geometry)).fill(false);
  let firstDifference: number | undefined;
  const [src, cln] = await Promise.all([open(sourcePath, 'r'), open(clonePath, 'r')]);
  try {
    // Double-buffered: the next chunk is read while this one is compared.
    const bufs = [0, 1].map(() => [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)] as const);
    const load = (offset: number, slot: number) => {
      const length = Math.min(CHUNK, size - offset);
      const [a, b] = bufs[slot]!;
      return Promise.all([readFully(src, a, length, offset, sourcePath), readFully(cln, b, length, offset, clonePath)]);
    };
    let pending = size > 0 ? load(0, 0) : undefined;
    for (let offset = 0, slot = 0; offset < size; offset += CHUNK, slot ^= 1) {
      await pending;
      const next = offset + CHUNK;
      pending = next < size ? load(next, slot ^ 1) : undefined;
      const length = Math.min(CHUNK, size - offset);
      const [a, b] = bufs[slot]!;
      if (a.compare(b, 0, length, 0, length) !== 0) {
        for (let e = Math.floor(offset / per); e * per < offset + length; e++) {
          if (delta[e]) continue;
          const from = Math.max(e * per, offset) - offset;
          const to = Math.min((e + 1) * per, offset + length) - offset;
          if (a.compare(b, from, to, from, to) === 0) continue;
          delta[e] = true;
          if (firstDifference === undefined) {
            let at = from;
            while (a[at] === b[at]) at++;
            firstDifference = offset + at;
          }
        }
      }
      onProgress?.(offset + length);
    }
  } finally {
    await Promise.all([src.close(), cln.close()]);
  }
  return { delta, firstDifference };
}
