/** Byte sizes as people type them (`64K`, `1M`, `1GiB`) and as they read them back. */
import { UsageError } from '../errors.js';

const UNITS: Readonly<Record<string, number>> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/**
 * A size flag: a whole number of bytes with an optional binary unit. Binary only, because extent
 * and sector sizes are powers of two and `64K` meaning 64,000 would never be what was meant.
 */
export function parseSize(flag: string, value: string): number {
  const m = /^\s*(\d+)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(value);
  if (m === null) throw new UsageError(`--${flag} ${JSON.stringify(value)}: expected a size such as 4096, 64K, 1M or 1G`);
  const bytes = Number(m[1]) * UNITS[m[2]!.toUpperCase()]!;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new UsageError(`--${flag} ${value}: must be a positive size`);
  return bytes;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${bytes} B` : `${v.toFixed(v < 10 ? 2 : 1).replace(/\.0+$/, '')} ${units[u]}`;
}
