// A vendor's test suite, in vitest: the engine crashed at every I/O point of every bundled
// scenario, in each cache mode, then random cases. Put it beside your engine and run `npx vitest`.
import { expect, it } from 'vitest';
import { checkEngine } from 'protected-restore';
import engine from './minimal-engine.mjs';

it('survives a crash at every I/O point, and random cases', { timeout: 300_000 }, async () => {
  const check = await checkEngine(engine, {
    engineArgs: '--engine ./minimal-engine.mjs', // how `prestore replay` reaches the engine, from here
    runs: 100,
  });
  // On failure: each distinct violation with its rule, trace, shrunk crash and replay line.
  expect(check.ok, check.format()).toBe(true);
});
