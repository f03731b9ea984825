import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type CachedWrite, DEVICE_NAMES, type DeviceName, enumerateCrashStates, imagesAfterCrash, type SurvivalChoice } from '../devices/fault-layer.js';
import { seededRng } from '../devices/rng.js';
import { imageKey } from './image-key.js';

const SS = 512;

/** The key exhaust used before: a digest of the whole images, built in full. */
function wholeImagesDigest(durable: Record<DeviceName, Uint8Array>, pending: readonly CachedWrite[], choice: SurvivalChoice): string {
  const images = imagesAfterCrash(durable, pending, choice, SS);
  const hash = createHash('sha256');
  for (const d of DEVICE_NAMES) hash.update(images[d]);
  return hash.digest('hex');
}

function filled(size: number, seed: number): Uint8Array {
  const rng = seededRng(`image-key/${seed}`);
  return Uint8Array.from({ length: size }, () => rng.below(4));
}

function cached(device: DeviceName, point: number, offset: number, sectors: number, fill: number): CachedWrite {
  return { device, point, offset, data: new Uint8Array(sectors * SS).fill(fill), fua: false, inFlight: false };
}

describe('imageKey', () => {
  // 5 chunks of 4 KiB and a short one: writes inside a chunk, across a chunk boundary, in the short last chunk, over each other.
  const size = 5 * 4096 + 3 * SS;
  const durable = { source: filled(size, 1), clone: filled(size, 2), meta: filled(8 * SS, 3) };
  const pending = [
    cached('source', 1, 4096 - SS, 2, 7), // across the first chunk boundary
    cached('source', 2, 5 * 4096 + SS, 2, 8), // the short last chunk
    cached('source', 3, 4096, 1, 9), // over the second sector of the first write
    cached('clone', 4, 2 * 4096 + 3 * SS, 3, 1), // values the durable image may already hold
    cached('meta', 5, 0, 1, 2),
  ];
  // Torn survivors are single sectors; subset and keep ones whole writes, which may cross chunks.
  const choices = (['subset', 'torn', 'keep'] as const).flatMap((mode) => enumerateCrashStates(pending, mode, SS, seededRng('k'), { exhaustiveUpTo: 5, sampleSize: 200 }).choices);

  it('is equal exactly when the images are byte-identical', () => {
    const byImages = new Map<string, string>();
    const byKey = new Map<string, string>();
    for (const choice of choices) {
      const images = wholeImagesDigest(durable, pending, choice);
      const key = imageKey(durable, pending, choice, SS);
      expect(byImages.get(images) ?? key).toBe(key);
      expect(byKey.get(key) ?? images).toBe(images);
      byImages.set(images, key);
      byKey.set(key, images);
    }
    // The sample holds both: states that share images, and states that do not.
    expect(byImages.size).toBeGreaterThan(20);
    expect(byImages.size).toBeLessThan(choices.length);
  });

  it('depends on the images alone: other durable images with other survivors leaving the same images share the key', () => {
    const write = cached('source', 1, 4096 - SS, 2, 7);
    const survived = { mode: 'subset' as const, survivors: [{ point: 1 }] };
    const flushed = { ...durable, source: durable.source.slice() };
    flushed.source.set(write.data, write.offset);
    expect(imageKey(flushed, [], { mode: 'drop', survivors: [] }, SS)).toBe(imageKey(durable, [write], survived, SS));
    expect(imageKey(durable, [write], { mode: 'drop', survivors: [] }, SS)).not.toBe(imageKey(durable, [write], survived, SS));
  });
});
