import { describe, expect, it } from 'vitest';
import { sectorBytes, sectorValue, VolumeModel } from './volume-model.js';

const allowed = (m: VolumeModel, s: number) => [...m.allowed(s)].sort();

describe('VolumeModel', () => {
  it('reads see an acknowledged write at once', () => {
    const m = new VolumeModel(['a', 'b']);
    m.write(0, 'x');
    expect(allowed(m, 0)).toEqual(['x']);
    expect(allowed(m, 1)).toEqual(['b']);
  });

  it('a crash before a flush may keep the durable value or any value written since', () => {
    const m = new VolumeModel(['a']);
    m.write(0, 'x');
    m.write(0, 'y');
    m.crash();
    expect(allowed(m, 0)).toEqual(['a', 'x', 'y']);
  });

  it('a flush makes the written value the only survivor of a crash', () => {
    const m = new VolumeModel(['a']);
    m.write(0, 'x');
    m.flush();
    m.crash();
    expect(allowed(m, 0)).toEqual(['x']);
  });

  it('the first read after a crash fixes the value, through later crashes too', () => {
    const m = new VolumeModel(['a']);
    m.write(0, 'x');
    m.crash();
    expect(m.allows(0, 'a')).toBe(true);
    m.observe(0, 'a');
    expect(m.allows(0, 'x')).toBe(false);
    m.crash();
    expect(allowed(m, 0)).toEqual(['a']);
  });

  it('a read after a crash and a new write does not narrow the durable set', () => {
    const m = new VolumeModel(['a']);
    m.write(0, 'x');
    m.crash();
    m.write(0, 'y');
    m.observe(0, 'y');
    m.crash();
    expect(allowed(m, 0)).toEqual(['a', 'x', 'y']);
  });

  it('a failed write leaves the old or the new value', () => {
    const m = new VolumeModel(['a']);
    m.uncertainWrite(0, 'x');
    expect(allowed(m, 0)).toEqual(['a', 'x']);
    m.flush();
    m.crash();
    expect(allowed(m, 0)).toEqual(['a', 'x']);
  });

  it('assignFrom takes the other volume durably, and copy() is independent', () => {
    const clone = new VolumeModel(['c0', 'c1']);
    clone.write(1, 'cx');
    const source = new VolumeModel(['s0', 's1']);
    source.write(0, 'sx');
    source.assignFrom(clone);
    source.crash();
    expect(allowed(source, 0)).toEqual(['c0']);
    expect(allowed(source, 1)).toEqual(['cx']);
    const copy = source.copy();
    copy.write(0, 'z');
    expect(allowed(source, 0)).toEqual(['c0']);
  });

  it('sector values round-trip bytes', () => {
    const bytes = new Uint8Array([0, 1, 255, 128]);
    expect(sectorBytes(sectorValue(bytes))).toEqual(bytes);
  });

  it('a sector value is one char per byte, of the byte\'s code, for every byte value and a sector inside a larger image', () => {
    const image = new Uint8Array(768).fill(0xaa);
    for (let i = 0; i < 512; i++) image[256 + i] = (255 - i) & 0xff;
    const sector = image.subarray(256, 768);
    const value = sectorValue(sector);
    expect(value).toBe(Array.from(sector, (b) => String.fromCharCode(b)).join(''));
    expect(sectorBytes(value)).toEqual(new Uint8Array(sector));
  });
  it('holdsOnly: the bytes are the one value a read may return, and no other sector or state passes', () => {
    const value = (fill: number, last = fill) => {
      const b = new Uint8Array(512).fill(fill);
      b[511] = last;
      return b;
    };
    const m = new VolumeModel([sectorValue(value(1)), sectorValue(value(2))]);
    expect(m.holdsOnly(0, value(1))).toBe(true);
    expect(m.holdsOnly(0, value(1, 9))).toBe(false);
    expect(m.holdsOnly(1, value(1))).toBe(false);
    // A copy shares the set, and a write replaces it: each says what it holds now.
    const copy = m.copy();
    m.write(0, sectorValue(value(3)));
    expect(m.holdsOnly(0, value(3))).toBe(true);
    expect(m.holdsOnly(0, value(1))).toBe(false);
    expect(copy.holdsOnly(0, value(1))).toBe(true);
    // Two values allowed: a read of either must still fix it in the model, so neither is the only one.
    m.crash();
    expect(m.allows(0, sectorValue(value(1)))).toBe(true);
    expect(m.holdsOnly(0, value(1))).toBe(false);
    expect(m.holdsOnly(0, value(3))).toBe(false);
  });
});
