import { defineConfig } from 'vitest/config';

/**
 * What `npm run mutation` (Stryker) scores the reference engine with: the property suite's files that
 * run the reference engine (in each shipped mode: default, deferProtection as `serve` runs it,
 * copy-ahead; and on generated options and devices), the regression files, every bundled
 * scenario exhausted, the oracle alone; and what no rule of the oracle reaches: the engine's
 * edges (out-of-state calls, P as inspect() reports it: reference-edges) and the shape of its I/O
 * (reference-io-shape). The engine's own unit tests are left out on
 * purpose: the score says what the harness catches, not what hand-written tests pin down.
 */
export default defineConfig({
  test: {
    include: [
      'properties/reference-engine.test.ts',
      'properties/deferred-protection.test.ts',
      'properties/copy-ahead.test.ts',
      'properties/engine-input.test.ts',
      'properties/regressions.test.ts',
      'properties/bundled-scenarios.test.ts',
      'properties/reference-edges.test.ts',
      'properties/reference-io-shape.test.ts',
    ],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
