import seedrandom from 'seedrandom';

/**
 * The one source of randomness in the harness. Everything random (which cached writes survive a
 * crash, which sample of crash states to check) draws from a generator made here from a seed, so
 * the same seed gives the same trace, byte for byte.
 */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  below(n: number): number;
  bool(): boolean;
}

export function seededRng(seed: string): Rng {
  const prng = seedrandom(seed);
  return {
    next: () => prng(),
    below: (n) => Math.floor(prng() * n),
    bool: () => prng() < 0.5,
  };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * A short digest of data for traces (32 bits, hex): enough to tell writes apart by eye. FNV-1a
 * taken four bytes at a time (little-endian words, then any tail byte by byte), each step followed
 * by a shift that carries a change in a word's high bits down (a multiply carries bits up only):
 * every traced write is digested, and a step per word instead of per byte makes it about three
 * times cheaper. The same bytes give the same digest wherever they sit in memory.
 */
export function digest(data: Uint8Array): string {
  let h = 0x811c9dc5;
  const words = data.length >>> 2;
  let i = 0;
  if (LITTLE_ENDIAN && data.byteOffset % 4 === 0) {
    // The words read in place: what the loop below computes, without four loads per word.
    const view = new Uint32Array(data.buffer, data.byteOffset, words);
    for (let w = 0; w < words; w++) {
      h = Math.imul(h ^ view[w]!, 0x01000193);
      h ^= h >>> 15;
    }
    i = words * 4;
  }
  for (; i < words * 4; i += 4) {
    h = Math.imul(h ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)), 0x01000193);
    h ^= h >>> 15;
  }
  for (; i < data.length; i++) {
    h ^= data[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
