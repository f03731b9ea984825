/**
 * The report's colours, seen as a colour-blind reader and a grey printer see them. Each colour is
 * simulated for protanopia, deuteranopia and tritanopia (Machado, Oliveira & Fernandes 2009,
 * severity 1, on linear RGB) and for grey (relative luminance), then compared in CIELAB: the
 * pairs a picture tells apart by colour must stay apart in every one of them, and the heat map
 * ramps must get darker at every step in every one of them.
 */
import { describe, expect, it } from 'vitest';
import { BLUES, binLabel, binOf, COLOURS, ORANGES } from './palette.js';

type Rgb = readonly [number, number, number];
type Vision = 'normal' | 'protanopia' | 'deuteranopia' | 'tritanopia' | 'grey';

const MACHADO: Record<'protanopia' | 'deuteranopia' | 'tritanopia', readonly Rgb[]> = {
  protanopia: [
    [0.152286, 1.052583, -0.204868],
    [0.114503, 0.786281, 0.099216],
    [-0.003882, -0.048116, 1.051998],
  ],
  deuteranopia: [
    [0.367322, 0.860646, -0.227968],
    [0.280085, 0.672501, 0.047413],
    [-0.01182, 0.04294, 0.968881],
  ],
  tritanopia: [
    [1.255528, -0.076749, -0.178779],
    [-0.078411, 0.930809, 0.147602],
    [0.004733, 0.691367, 0.3039],
  ],
};

const VISIONS: readonly Vision[] = ['normal', 'protanopia', 'deuteranopia', 'tritanopia', 'grey'];

function linear(hex: string): Rgb {
  const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((v) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  return [c[0]!, c[1]!, c[2]!];
}

function seenBy(vision: Vision, rgb: Rgb): Rgb {
  if (vision === 'normal') return rgb;
  if (vision === 'grey') {
    const y = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
    return [y, y, y];
  }
  const m = MACHADO[vision];
  const row = (r: Rgb) => Math.min(1, Math.max(0, r[0] * rgb[0] + r[1] * rgb[1] + r[2] * rgb[2]));
  return [row(m[0]!), row(m[1]!), row(m[2]!)];
}

function lab([r, g, b]: Rgb): Rgb {
  const xyz = [0.4124 * r + 0.3576 * g + 0.1805 * b, 0.2126 * r + 0.7152 * g + 0.0722 * b, 0.0193 * r + 0.1192 * g + 0.9505 * b];
  const white = [0.95047, 1, 1.08883];
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
  const [fx, fy, fz] = xyz.map((v, i) => f(v / white[i]!)) as [number, number, number];
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

/** CIE76 colour difference, as `vision` sees the two colours. */
function difference(vision: Vision, a: string, b: string): number {
  const [p, q] = [lab(seenBy(vision, linear(a))), lab(seenBy(vision, linear(b)))];
  return Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
}

function lightness(vision: Vision, hex: string): number {
  return lab(seenBy(vision, linear(hex)))[0];
}

/**
 * Pairs a picture tells apart by colour, beside the shapes that also tell them apart: 15 is a
 * difference anyone sees at a glance. Reads and writes, and writes and surviving writes, sit in
 * the same lane with no other cue, so they must also differ in lightness (grey print).
 */
const APART: readonly (readonly [keyof typeof COLOURS, keyof typeof COLOURS])[] = [
  ['readFill', 'write'],
  ['write', 'survived'],
  ['readFill', 'survived'],
  ['crash', 'write'],
  ['crash', 'survived'],
  ['crash', 'recovery'],
  ['host', 'quiet'],
  ['host', 'check'],
  ['recovery', 'lane'],
];
const LIGHTER_OR_DARKER: readonly (readonly [keyof typeof COLOURS, keyof typeof COLOURS])[] = [
  ['readFill', 'write'],
  ['write', 'survived'],
  ['readFill', 'survived'],
];

describe('colours for every reader', () => {
  for (const vision of VISIONS) {
    it(`keeps the picture's colours apart in ${vision} vision`, () => {
      for (const [a, b] of APART) expect(difference(vision, COLOURS[a], COLOURS[b]), `${a} vs ${b}`).toBeGreaterThanOrEqual(vision === 'grey' ? 4 : 15);
      for (const [a, b] of LIGHTER_OR_DARKER) expect(Math.abs(lightness(vision, COLOURS[a]) - lightness(vision, COLOURS[b])), `${a} vs ${b} in lightness`).toBeGreaterThanOrEqual(10);
    });

    it(`darkens the heat map ramps at every step in ${vision} vision`, () => {
      for (const ramp of [BLUES, ORANGES]) {
        const l = ['#FFFFFF', ...ramp].map((c) => lightness(vision, c));
        for (let i = 1; i < l.length; i++) expect(l[i - 1]! - l[i]!, `${ramp[i - 1]} step ${i}`).toBeGreaterThanOrEqual(5);
      }
    });
  }

  it('a colour pair that only hue tells apart fails the check (the simulator is not blind to the problem)', () => {
    // Red and green of one lightness: the classic pair deuteranopes confuse.
    expect(difference('normal', '#CC3333', '#339933')).toBeGreaterThan(15);
    expect(difference('deuteranopia', '#C74A4A', '#5A8A2A')).toBeLessThan(15);
    expect(difference('grey', '#C74A4A', '#5A8A2A')).toBeLessThan(4);
  });
});

describe('heat map bins', () => {
  it('bins counts as the legend says: none, 1, 2–3, 4–15, 16–63, 64+', () => {
    expect([0, 1, 2, 3, 4, 15, 16, 63, 64, 10_000].map(binOf)).toEqual([undefined, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    expect([0, 1, 2, 3, 4].map(binLabel)).toEqual(['1', '2–3', '4–15', '16–63', '64+']);
  });
});
