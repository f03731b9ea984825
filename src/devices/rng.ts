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

/** A short digest of data for traces (FNV-1a, 32 bits, hex): enough to tell writes apart by eye. */
export function digest(data: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) {
    h ^= data[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
