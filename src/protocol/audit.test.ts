/**
 * The audit of a persistent engine process: an engine that declares "stateless" but keeps a
 * counter across instances is caught when the instance after a crash is run again in a fresh
 * process (exit 2, naming where the runs part); an engine that keeps nothing passes it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Case } from '../harness/case.js';
import { runCase } from '../harness/run-case.js';
import { packageRoot } from '../harness/scenario-file.js';
import { StateAcrossCrashError } from './audit.js';
import { allProcessesEnded, endRestingProcesses, liveProcesses, stdioEngine } from './stdio-engine.js';

const dir = mkdtempSync(join(tmpdir(), 'prestore-audit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  endRestingProcesses();
  await allProcessesEnded();
  expect(liveProcesses()).toBe(0);
});

const dist = (path: string) => JSON.stringify(join(packageRoot(), 'dist/src', path));
/** The reference engine, except that every open after the first in its process reads one more sector: it remembers. */
const COUNTING = join(dir, 'counting.mjs');
writeFileSync(
  COUNTING,
  `import { referenceEngine } from ${dist('engine/reference/index.js')};
import { serveEngine } from ${dist('protocol/serve-engine.js')};
let opens = 0;
await serveEngine({
  name: 'counting',
  metadataSize: (g) => referenceEngine.metadataSize(g),
  format: (d, g, delta) => referenceEngine.format(d, g, delta),
  async open(devices, geometry) {
    if (++opens > 1) await devices.meta.read(0, geometry.sectorSize);
    return referenceEngine.open(devices, geometry);
  },
});
`,
);
const HONEST = `node ${JSON.parse(dist('protocol/serve-reference.js'))}`;

const CRASHED: Case = {
  geometry: { sectorSize: 512, extentSectors: 2, volumeSize: 5 * 512 },
  initial: { differ: 'all', delta: 'exact' },
  workload: [{ op: 'startRestore', protect: true }, { op: 'write', volume: 'source', sector: 2, sectors: 1, pattern: 1 }, { op: 'step', count: 2 }],
  crashes: [{ point: 14, mode: 'torn' }],
  eio: [],
};

describe('the audit of a persistent engine process', () => {
  it('catches an engine that keeps a counter across a crash, naming where the runs part', { timeout: 60_000 }, async () => {
    const run = runCase(stdioEngine(`node ${COUNTING}`, { auditRate: 1 }), CRASHED, { seed: 'audit' });
    await expect(run).rejects.toBeInstanceOf(StateAcrossCrashError);
    await expect(run).rejects.toThrow(/keeps state across a crash.*open parts at its device I\/O number 1: the persistent process asked for meta read of 512 bytes at offset 0, a fresh process for /);
  });

  it('is what catches it: unaudited, the same engine passes', { timeout: 60_000 }, async () => {
    const run = await runCase(stdioEngine(`node ${COUNTING}`, { auditRate: 0 }), CRASHED, { seed: 'audit' });
    expect(run.violations).toEqual([]);
    expect(run.crashStates).toBe(1);
  });

  it.each([
    ['the reference engine served', HONEST],
    ['the Python example', 'python3 examples/python_engine.py'],
  ])('passes an engine that keeps nothing (%s), every instance audited, with the same I/O as unaudited', { timeout: 60_000 }, async (_, command) => {
    const audited = await runCase(stdioEngine(command, { auditRate: 1 }), CRASHED, { seed: 'audit' });
    const plain = await runCase(stdioEngine(command, { auditRate: 0 }), CRASHED, { seed: 'audit' });
    expect(audited.violations).toEqual([]);
    expect(audited.crashStates).toBe(1);
    expect(audited.trace).toEqual(plain.trace);
  });
});
