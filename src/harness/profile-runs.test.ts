/**
 * A device profile chosen for a run reaches every crash state: the ones exhaust derives from its
 * recorded run as well as the ones it runs live, and the replay line carries it.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { presetProfile } from '../devices/device-profile.js';
import { type CachedWrite, enumerateCrashStates } from '../devices/fault-layer.js';
import { seededRng } from '../devices/rng.js';
import { referenceEngine } from '../engine/reference/index.js';
import { exhaust } from './exhaust.js';
import { decodeCase } from './replay-line.js';
import { bundledScenariosDir, loadScenario, parseScenario } from './scenario-file.js';

const SS = 512;

describe('device profiles in exhaust', () => {
  it('a drive that ignores FUA: derived crash states find what live runs find, and lines carry the profile', { timeout: 60_000 }, async () => {
    const scenario = await loadScenario(join(bundledScenariosDir(), 'protected-restore.json'), 'protected-restore');
    const profile = presetProfile('ignores-fua');
    const plain = await exhaust(referenceEngine, scenario, { seed: 'p', crashShrinkAttempts: 0 });
    const resumed = await exhaust(referenceEngine, scenario, { seed: 'p', profile, crashShrinkAttempts: 0 });
    const rerun = await exhaust(referenceEngine, scenario, { seed: 'p', profile, crashShrinkAttempts: 0, rerunPrefix: true });
    expect(plain.violations).toHaveLength(0);
    // The reference engine's superblock commit rests on FUA alone: a drive that drops it loses the start.
    expect(resumed.violationsByRule['atomic-start']).toBeGreaterThan(0);
    expect(JSON.stringify(resumed)).toBe(JSON.stringify(rerun));
    for (const v of resumed.violations) expect(decodeCase(v.replay.split(' ').pop()!).case.profile).toEqual(profile);
  });

  it('a 4 KiB-atomic drive: exhaust enumerates its crash states in whole units', () => {
    const write: CachedWrite = { device: 'source', point: 3, offset: 0, data: new Uint8Array(16 * SS), fua: false, inFlight: false };
    const sectors = enumerateCrashStates([write], 'torn', SS, seededRng('e'));
    const units = enumerateCrashStates([write], 'torn', SS, seededRng('e'), undefined, 4096);
    expect(sectors).toMatchObject({ exhaustive: false, possible: 2 ** 16 });
    expect(units).toMatchObject({ exhaustive: true, possible: 4 });
    expect(units.choices.map((c) => c.survivors.flatMap((s) => s.sectors ?? []).length).sort((a, b) => a - b)).toEqual([0, 8, 8, 16]);
  });

  it('a scenario names its profile by preset or inline, and a bad one by its field', () => {
    const text = (deviceProfile: unknown) =>
      JSON.stringify({ name: 's', description: 'd', geometry: { volumeSize: 4096, extentSectors: 2 }, initial: { differ: 'all' }, workload: [{ op: 'step' }], deviceProfile });
    expect(parseScenario(text('ignores-fua'), 's.json').profile).toBe(presetProfile('ignores-fua'));
    expect(parseScenario(text({ atomicWriteBytes: 4096 }), 's.json').profile).toMatchObject({ name: 'custom', atomicWriteBytes: 4096 });
    expect(() => parseScenario(text('floppy'), 's.json')).toThrow(/^s\.json: deviceProfile: no device profile preset named floppy/);
    expect(() => parseScenario(text({ fua: 'never' }), 's.json')).toThrow(/^s\.json: deviceProfile: fua: "never"/);
    expect(() => parseScenario(text(7), 's.json')).toThrow(/deviceProfile/);
  });
});
