/**
 * Exhaust checks each class of crash states that leave byte-identical images once; this is the
 * key of the class. It is a digest of the images' bytes alone (not of how they were built: two
 * crash states with other durable images and other survivors, and the same images, share it),
 * at a cost that follows what survived rather than the images' size.
 *
 * The images are hashed in chunks. Crash points between the same flushes share one copy of the
 * durable images (`RecordedDevices.crashAt`), so each durable image's chunk digests are taken
 * once per copy; per crash state only the chunks its surviving writes touch are hashed again, and
 * the key is the digest of every chunk's digest, in device and chunk order. Hashing the whole
 * images per crash state cost a tenth of `exhaust scenarios/` (most of it on a 2 MiB volume).
 */
import { createHash } from 'node:crypto';
import { type CachedWrite, DEVICE_NAMES, type DeviceName, type SurvivalChoice, survivingWrites } from '../devices/fault-layer.js';

const CHUNK = 4096;
const DIGEST = 32;

function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** Each chunk's digest of a durable image, end to end: computed once per image, kept while it lives. */
const durableDigests = new WeakMap<Uint8Array, Buffer>();

function chunkDigests(image: Uint8Array): Buffer {
  let digests = durableDigests.get(image);
  if (digests === undefined) {
    const chunks = Math.ceil(image.length / CHUNK);
    digests = Buffer.alloc(chunks * DIGEST);
    for (let c = 0; c < chunks; c++) digests.set(sha256(image.subarray(c * CHUNK, (c + 1) * CHUNK)), c * DIGEST);
    durableDigests.set(image, digests);
  }
  return digests;
}

/** The key of the images a crash leaves: `durable` with what `choice` says survived of `pending`, applied in issue order. */
export function imageKey(durable: Readonly<Record<DeviceName, Uint8Array>>, pending: readonly CachedWrite[], choice: SurvivalChoice, sectorSize: number): string {
  const hash = createHash('sha256');
  for (const device of DEVICE_NAMES) {
    const image = durable[device];
    const writes = survivingWrites(
      pending.filter((p) => p.device === device),
      choice,
      sectorSize,
    );
    const durableChunks = chunkDigests(image);
    if (writes.length === 0) {
      hash.update(durableChunks);
      continue;
    }
    const digests = Buffer.from(durableChunks);
    const touched = new Set<number>();
    for (const w of writes) for (let c = Math.floor(w.offset / CHUNK); c * CHUNK < w.offset + w.data.length; c++) touched.add(c);
    for (const c of touched) {
      const start = c * CHUNK;
      const chunk = image.slice(start, start + CHUNK);
      for (const w of writes) {
        const lo = Math.max(start, w.offset);
        const hi = Math.min(start + chunk.length, w.offset + w.data.length);
        if (lo < hi) chunk.set(w.data.subarray(lo - w.offset, hi - w.offset), lo - start);
      }
      digests.set(sha256(chunk), c * DIGEST);
    }
    hash.update(digests);
  }
  return hash.digest('hex').slice(0, 32);
}
