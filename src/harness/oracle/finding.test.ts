import { describe, expect, it } from 'vitest';
import { firstDifferingSector } from './finding.js';

describe('firstDifferingSector', () => {
  const image = () => new Uint8Array(4 * 512).map((_, i) => i % 251);

  it('is -1 for equal images, and for equal views into larger buffers', () => {
    const big = new Uint8Array(5 * 512);
    big.set(image(), 512);
    expect(firstDifferingSector(image(), image(), 512)).toBe(-1);
    expect(firstDifferingSector(big.subarray(512), image(), 512)).toBe(-1);
  });

  it('names the first sector that differs, by its last byte alone', () => {
    const changed = image();
    changed[3 * 512 - 1] ^= 1;
    changed[4 * 512 - 1] ^= 1;
    expect(firstDifferingSector(image(), changed, 512)).toBe(2);
  });
});
