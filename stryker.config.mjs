// Mutation testing of the reference engine against the oracle: `npm run mutation` (not part of
// npm test; slow; README, "Mutation testing"). PRESTORE_RUNS sets the property suite's depth
// (properties/settings.ts), STRYKER_CONCURRENCY the workers, STRYKER_JSON where the JSON report goes.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  mutate: ['src/engine/reference/engine.ts'],
  coverageAnalysis: 'perTest',
  concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 2),
  timeoutMS: 30_000,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: process.env.STRYKER_JSON ?? 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
