import { defineConfig } from 'vitest/config';

/**
 * What `npm run mutation` (Stryker) scores the reference engine with: the property suite and every
 * bundled scenario exhausted, the oracle alone. The engine's own unit tests are left out on
 * purpose: the score says what the harness catches, not what hand-written tests pin down.
 */
export default defineConfig({
  test: {
    include: ['properties/reference-engine.test.ts', 'properties/bundled-scenarios.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
