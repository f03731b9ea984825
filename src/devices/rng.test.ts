/**
 * The trace digest: a function of the bytes alone (a write's digest and a later read's of the same
 * bytes must match in a transcript, wherever each buffer sits in memory), and it tells apart data
 * that differs in any one byte, tail bytes included.
 */
import { describe, expect, it } from 'vitest';
import { digest, seededRng } from './rng.js';

describe('digest', () => {
  it('is the same for the same bytes at any offset in memory, whatever the length', () => {
    const rng = seededRng('digest');
    for (const length of [0, 1, 3, 4, 5, 511, 512, 4096, 4099]) {
      const bytes = Uint8Array.from({ length }, () => rng.below(256));
      const digests = new Set<string>();
      for (let shift = 0; shift < 4; shift++) {
        const backing = new Uint8Array(length + 8);
        backing.set(bytes, shift);
        digests.add(digest(backing.subarray(shift, shift + length)));
      }
      expect([...digests]).toEqual([digest(bytes)]);
    }
  });

  it('changes when any one byte changes, in a whole word or in the tail', () => {
    const bytes = Uint8Array.from({ length: 515 }, (_, i) => (i * 31) & 255);
    const seen = new Set([digest(bytes)]);
    for (let i = 0; i < bytes.length; i++) {
      const changed = bytes.slice();
      changed[i] ^= 0x40;
      seen.add(digest(changed));
    }
    expect(seen.size).toBe(bytes.length + 1);
  });
});
