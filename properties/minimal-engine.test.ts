/**
 * The minimal example engine a vendor starts from (examples/minimal-engine.mjs) must pass the
 * harness, or the README's "Testing your own engine" would teach something broken: random cases
 * (PRESTORE_RUNS of them), every crash point of two bundled scenarios, and bad metadata refused.
 *
 * The example imports the contract from the package by its name, which resolves to the package's
 * own dist/, so dist must be built first: `npm test` builds before vitest (a bare `npx vitest`
 * needs `npm run build` first).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../src/devices/memory-device.js';
import type { EngineFactory, Geometry } from '../src/engine/contract.js';
import { exhaust } from '../src/harness/exhaust.js';
import { explore } from '../src/harness/explore.js';
import { bundledScenariosDir, loadScenario } from '../src/harness/scenario-file.js';
import { RUNS, SEED } from './settings.js';

// A variable specifier keeps tsc from resolving the untyped .mjs; vitest loads it as it is.
const example = async () => (await import('../examples/minimal-engine.mjs' as string)).default as EngineFactory;

describe('the minimal example engine', () => {
  it(`holds every rule over ${RUNS} random cases`, { timeout: 60_000 }, async () => {
    const result = await explore(await example(), { seed: SEED, runs: RUNS });
    expect(result.violations.map((v) => `${v.rule}: ${v.message}\n${v.replay}`)).toEqual([]);
    expect(result.cases).toBe(RUNS);
  });

  // Mirrored host writes in an unprotected restore; a second crash at every point of recovery.
  it.each(['unprotected-restore', 'crash-during-recovery'])('passes exhaust on %s', { timeout: 60_000 }, async (name) => {
    const scenario = await loadScenario(join(bundledScenariosDir(), `${name}.json`), name);
    const result = await exhaust(await example(), scenario, { seed: SEED });
    expect(result.violations.map((v) => `${v.rule}: ${v.message}\n${v.replay}`)).toEqual([]);
    expect(result.crashStates).toBeGreaterThan(100);
  });

  it('refuses metadata it cannot trust with a MetadataError, before writing anything', async () => {
    const factory = await example();
    const geometry: Geometry = { volumeSize: 8 * 512, sectorSize: 512, extentSectors: 2 };
    const devices = () => ({
      source: MemoryDevice.zeroed(geometry.volumeSize, 512, 'source'),
      clone: MemoryDevice.zeroed(geometry.volumeSize, 512, 'clone'),
      meta: MemoryDevice.zeroed(factory.metadataSize(geometry), 512, 'meta'),
    });
    const refused = async (d: ReturnType<typeof devices>, g: Geometry) => {
      const before = d.meta.bytes.slice();
      const error = await factory.open(d, g).then(() => undefined, (e: unknown) => e);
      expect(d.meta.bytes).toEqual(before);
      return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    };
    expect(await refused(devices(), geometry)).toMatch(/^MetadataError: no valid superblock/);
    const formatted = devices();
    await factory.format(formatted, geometry, 'all');
    expect(await refused(formatted, { ...geometry, extentSectors: 1 })).toMatch(/^MetadataError: .*4096\/512\/2/);
  });
});
