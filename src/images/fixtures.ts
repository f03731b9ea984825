/**
 * Seeded image files for the tests and the bench: every byte derives from a seed, so a failing
 * run can be rebuilt exactly, and no two extents look alike, so a copy to the wrong place shows.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { seededRng } from '../devices/rng.js';

const CHUNK = 1 << 20;

/** Fills `bytes` (length a multiple of 4) from xorshift32 seeded by `rng`: fast enough for GiBs. */
function fill(bytes: Uint8Array, next: () => number): void {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
  let x = (next() * 0xffffffff) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
}

/** Creates (or replaces) `path`: `size` bytes of seeded data. */
export async function writeSeededImage(path: string, size: number, seed: string): Promise<void> {
  const rng = seededRng(seed);
  const handle = await open(path, 'w');
  try {
    const buf = new Uint8Array(CHUNK);
    for (let at = 0; at < size; at += CHUNK) {
      const n = Math.min(CHUNK, size - at);
      fill(buf, () => rng.next());
      await handle.write(buf, 0, n, at);
    }
  } finally {
    await handle.close();
  }
}

/** Overwrites each byte range of `path` with seeded data. */
export async function scribble(path: string, ranges: readonly { offset: number; length: number }[], seed: string): Promise<void> {
  const rng = seededRng(seed);
  const handle = await open(path, 'r+');
  try {
    for (const { offset, length } of ranges) {
      const buf = new Uint8Array(Math.ceil(length / 4) * 4);
      fill(buf, () => rng.next());
      await handle.write(buf, 0, length, offset);
    }
  } finally {
    await handle.close();
  }
}

export function sha256File(path: string): Promise<string> {
  return new Promise((done, fail) => {
    const hash = createHash('sha256');
    createReadStream(path, { highWaterMark: CHUNK })
      .on('data', (d) => hash.update(d))
      .on('error', fail)
      .on('end', () => done(hash.digest('hex')));
  });
}
