/**
 * Operations issued alongside each other: which ones form a group, how a read alongside a write
 * is judged, and that shrinking issues operations on their own again when the failure allows.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sectorValue, VolumeModel } from '../../../model/volume-model.js';
import { caseArb } from '../arbitraries.js';
import type { Case, HostOp } from '../case.js';
import { readMatchesModel } from '../oracle/reads-right.js';
import { groupAt } from './together.js';

const write = (sector: number, alongside?: boolean): HostOp => ({ op: 'write', volume: 'source', sector, sectors: 1, pattern: 1, ...(alongside === undefined ? {} : { alongside }) });

describe('groupAt', () => {
  const workload: HostOp[] = [
    { op: 'startRestore', protect: true },
    { op: 'step', alongside: true },
    write(0, true),
    { op: 'flush', volume: 'source', alongside: true },
    write(1, false),
    { op: 'powerLoss', mode: 'drop' },
    write(2, true),
  ];

  it('takes a read, write, flush or step and every next one marked alongside', () => {
    expect(groupAt(workload, 1)).toEqual(workload.slice(1, 4));
    expect(groupAt(workload, 4)).toEqual([workload[4]]);
  });

  it('never groups a startRestore or a power loss: an alongside operation after one starts its own group', () => {
    expect(groupAt(workload, 0)).toEqual([workload[0]]);
    expect(groupAt(workload, 5)).toEqual([workload[5]]);
    expect(groupAt(workload, 6)).toEqual([workload[6]]);
  });
});

describe('a read alongside a write', () => {
  const value = (c: string) => sectorValue(new Uint8Array(512).fill(c.charCodeAt(0)));
  const bytes = (c: string) => new Uint8Array(512).fill(c.charCodeAt(0));

  it('may see the value the write puts there, which fixes nothing in the model', () => {
    const model = new VolumeModel([value('a')]);
    expect(readMatchesModel(model, 'a read', 0, bytes('b'), 512, 'reads-right', () => new Set([value('b')]))).toEqual([]);
    expect(model.allowed(0)).toEqual(new Set([value('a')]));
  });

  it('may not see a value neither the model nor the write allows, and the message lists both', () => {
    const model = new VolumeModel([value('a')]);
    const [finding] = readMatchesModel(model, 'a read', 0, bytes('c'), 512, 'reads-right', () => new Set([value('b')]));
    expect(finding?.rule).toBe('reads-right');
    expect(finding?.expected?.split('|')).toHaveLength(2);
    expect(readMatchesModel(model, 'a read', 0, bytes('b'), 512)).toHaveLength(1);
  });
});

describe('shrinking', () => {
  it('issues operations on their own, on in-order devices, when the failure does not need either', () => {
    // A failure that needs only a source write during the restore, first drawn (unshrunk) with
    // the write alongside another operation and on out-of-order devices: shrunk, it keeps neither.
    const fails = fc.property(caseArb, (c) => !c.workload.some((op, i) => op.op === 'write' && op.volume === 'source' && c.workload.slice(0, i).some((o) => o.op === 'startRestore')));
    const concurrent = (c: Case) => c.inFlight !== undefined && c.workload.some((op) => op.op === 'write' && op.alongside === true);
    const seed = Array.from({ length: 200 }, (_, s) => s).find((s) => concurrent(fc.check(fails, { seed: s, endOnFailure: true }).counterexample![0]));
    expect(seed).toBeDefined();
    const [c] = fc.check(fails, { seed: seed! }).counterexample!;
    expect(c.inFlight).toBeUndefined();
    expect(c.workload.some((op) => 'alongside' in op && op.alongside === true)).toBe(false);
  });
});
