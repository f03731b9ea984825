/**
 * The report's colours. Categories come from the Okabe–Ito palette, chosen to stay apart for the
 * common forms of colour-blindness; the heat map ramps are single-hue and run light to dark, so
 * they read the same in grey. Colour never carries a meaning alone: lost writes are hatched,
 * FUA writes flagged, flushes drawn as bars, the crash as a dashed line, sampled cells hatched.
 * `palette.test.ts` simulates protanopia, deuteranopia, tritanopia and grey printing and checks
 * that what must stay apart does.
 */

export const COLOURS = {
  /** A read: a pale box outlined in sky blue. */
  read: '#56B4E9',
  readFill: '#D4ECFA',
  /** A write that was not at risk at a crash. */
  write: '#0072B2',
  /**
   * A sector of a cached write that reached the medium at a crash: Okabe–Ito's bluish green
   * (#009E73) lightened, which alone was too near the write blue for tritanopes and the crash
   * vermillion in grey (palette.test.ts caught both).
   */
  survived: '#3DBE93',
  /** The hatch of a sector of a cached write that was lost. */
  lost: '#D55E00',
  /** The power loss, a dashed line across the lanes, and the failed check. */
  crash: '#D55E00',
  /** The recovery's stretch of the timeline, a pale band behind the lanes. */
  recovery: '#F0E442',
  /** Host operations in the host lane. */
  host: '#E69F00',
  /** The harness's checks at the end of a case. */
  check: '#CC79A7',
  /** Flush barriers and FUA flags. */
  barrier: '#000000',
  /** Lane backgrounds and quiet marks (engine steps, the engine opening). */
  lane: '#F4F4F4',
  quiet: '#D9D9D9',
  ink: '#1A1A1A',
} as const;

/** Crash states (checked, distinct) per cell: ColorBrewer Blues, light to dark. */
export const BLUES = ['#DEEBF7', '#9ECAE1', '#6BAED6', '#3182BD', '#08519C'] as const;

/** Violations per cell: ColorBrewer Oranges, light to dark. */
export const ORANGES = ['#FDD0A2', '#FDAE6B', '#FD8D3C', '#E6550D', '#A63603'] as const;

/** The lower bound of each shade: 1, 2–3, 4–15, 16–63, 64 and more. Fixed, so maps compare. */
export const BIN_FLOORS = [1, 2, 4, 16, 64] as const;

/** The shade of a count: undefined for none, else an index into a ramp. */
export function binOf(count: number): number | undefined {
  if (count <= 0) return undefined;
  let bin = 0;
  BIN_FLOORS.forEach((floor, i) => {
    if (count >= floor) bin = i;
  });
  return bin;
}

/** The legend's words for a bin: `1`, `2–3`, …, `64+`. */
export function binLabel(bin: number): string {
  const floor = BIN_FLOORS[bin]!;
  const next = BIN_FLOORS[bin + 1];
  if (next === undefined) return `${floor}+`;
  return next - 1 === floor ? String(floor) : `${floor}–${next - 1}`;
}
