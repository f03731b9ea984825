/**
 * How deep the property suite goes, from one setting: `PRESTORE_RUNS` cases per property
 * (default 500, well under a second per property; `PRESTORE_RUNS=10000` for a deep run, 20x).
 * The one place it is read: the fault layer's model test (src/devices/) scales from it too.
 */
export const RUNS = (() => {
  const raw = process.env['PRESTORE_RUNS'];
  if (raw === undefined || raw === '') return 500;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`PRESTORE_RUNS must be a positive whole number, not "${raw}"`);
  return n;
})();

/** The seed of every property, overridable to explore elsewhere: `PRESTORE_SEED=abc npm test`. */
export const SEED = process.env['PRESTORE_SEED'] ?? 'prestore-properties';
