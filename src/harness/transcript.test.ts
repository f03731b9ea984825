/**
 * A replay transcript labels every phase, so each I/O line sits under what caused it: the copier's
 * run to completion after the workload (not under the workload's last operation), the checker's
 * own reads after a recovery (not under the engine's open), and the end checks.
 */
import { describe, expect, it } from 'vitest';
import { referenceEngine } from '../engine/reference/index.js';
import type { Case } from './case.js';
import { runCase } from './run-case.js';

/** The label each I/O line of a transcript sits under: the nearest line above it that is not I/O. */
function sections(transcript: readonly string[]): { label: string; io: string[] }[] {
  const out: { label: string; io: string[] }[] = [];
  for (const line of transcript) {
    if (line.startsWith('  #')) out.at(-1)!.io.push(line.trim());
    else out.push({ label: line, io: [] });
  }
  return out;
}

const geometry = { volumeSize: 8 * 512, sectorSize: 512, extentSectors: 2 };

describe('the replay transcript', () => {
  it('puts the copier\'s run to completion under its own label, after the workload\'s last operation', async () => {
    const c: Case = { geometry, initial: { differ: 'all', delta: 'exact' }, workload: [{ op: 'startRestore', protect: true }, { op: 'flush', volume: 'source' }], crashes: [], eio: [] };
    const run = await runCase(referenceEngine, c, { seed: 's', engineArgs: '--engine reference', transcript: true });
    const parts = sections(run.transcript);
    const flush = parts.find((p) => p.label === 'host: flush source')!;
    expect(flush.io.map((l) => l.replace(/^#\d+ /, ''))).toEqual(['source flush']);
    const over = parts.findIndex((p) => p.label === 'the workload is over: the copier steps until the restore completes');
    expect(over).toBe(parts.indexOf(flush) + 1);
    // Each of the copier's steps under its own label, until the end checks begin.
    const end = parts.findIndex((p, i) => i > over && p.label.startsWith('check: '));
    const steps = parts.slice(over + 1, end).filter((p) => p.label !== 'the restore completed');
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.every((p) => p.label === 'copier: step')).toBe(true);
    const io = steps.flatMap((p) => p.io);
    expect(io.some((l) => / clone read /.test(l))).toBe(true);
    expect(io.some((l) => / source write /.test(l))).toBe(true);
  });

  it('labels the checker\'s reads after a recovery apart from the engine\'s open', async () => {
    const c: Case = { geometry, initial: { differ: 'all', delta: 'exact' }, workload: [{ op: 'startRestore', protect: true }, { op: 'powerLoss', mode: 'drop' }], crashes: [], eio: [], finish: false };
    const run = await runCase(referenceEngine, c, { seed: 's', engineArgs: '--engine reference', transcript: true });
    const parts = sections(run.transcript);
    const open = parts.findIndex((p) => p.label === 'recovery: open the engine on the surviving images');
    expect(parts[open]!.io.every((l) => / meta /.test(l))).toBe(true);
    expect(parts[open + 1]!.label).toBe('check: the engine\'s status, then every sector read back through the engine');
    expect(parts[open + 1]!.io.length).toBeGreaterThan(0);
    expect(parts[open + 1]!.io.every((l) => / (source|clone) read /.test(l))).toBe(true);
  });
});
