import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // examples/: the vendor's vitest example runs as the README shows it, against the built package.
    include: ['src/**/*.test.ts', 'model/**/*.test.ts', 'properties/**/*.test.ts', 'scenarios/**/*.test.ts', 'examples/**/*.test.mjs'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The JSON report is what .ci/run counts passes and failures from.
    reporters: ['default', 'json'],
    outputFile: { json: 'coverage/vitest-result.json' },
  },
});
