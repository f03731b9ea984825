/**
 * Operations in flight together (`inFlight`): they complete in an order the seed or a script
 * decides, a flush covers only what was acknowledged when it was issued, and a crash leaves every
 * write in flight free to survive or not. Each test names the in-order behaviour it must differ from.
 */
import { describe, expect, it } from 'vitest';
import { CompletionOrder, OrderSearch } from './completion-order.js';
import { CrashError, type DeviceName, FaultLayer, formatTraceEntry, type InFlightOptions } from './fault-layer.js';
import { MemoryDevice } from './memory-device.js';
import { seededRng } from './rng.js';

const SS = 512;

function layer(options: { inFlight?: InFlightOptions; crashAt?: number[]; seed?: string } = {}) {
  const backends = { source: MemoryDevice.zeroed(8 * SS), clone: MemoryDevice.zeroed(8 * SS), meta: MemoryDevice.zeroed(8 * SS) } as Record<DeviceName, MemoryDevice>;
  return { backends, layer: new FaultLayer(backends, { crashAt: options.crashAt ?? [] }, options.seed ?? 's', false, options.inFlight) };
}

const bytes = (v: number, sectors = 1) => new Uint8Array(sectors * SS).fill(v);

/** Two writes issued together; which one completed first, by the order their promises settled. */
async function firstOfTwo(l: FaultLayer): Promise<number> {
  const done: number[] = [];
  await Promise.all([l.devices.source.write(0, bytes(1)).then(() => done.push(1)), l.devices.source.write(SS, bytes(2)).then(() => done.push(2))]);
  return done[0]!;
}

describe('operations in flight together', () => {
  it('complete in issue order without inFlight, and in both orders across seeds with it', async () => {
    expect(await firstOfTwo(layer().layer)).toBe(1);
    const firsts = new Set<number>();
    for (let i = 0; i < 16; i++) firsts.add(await firstOfTwo(layer({ inFlight: {}, seed: `seed-${i}` }).layer));
    expect([...firsts].sort()).toEqual([1, 2]);
  });

  it('follow a script, record every decision and the completion order in the trace', async () => {
    const { layer: l } = layer({ inFlight: { order: [1] } });
    expect(await firstOfTwo(l)).toBe(2);
    expect(l.completionOrder!.taken).toEqual([1]);
    expect(l.trace.map(formatTraceEntry)).toEqual([`#0 source write 0+512 ${l.trace[0]!.digest} done#1`, `#1 source write 512+512 ${l.trace[1]!.digest} done#0`]);
  });

  it('are the same for the same seed', async () => {
    const run = async () => {
      const { layer: l } = layer({ inFlight: {}, seed: 'same' });
      await Promise.all([0, 1, 2, 3].map((s) => l.devices.meta.write(s * SS, bytes(s + 1))));
      return l.trace.map(formatTraceEntry);
    };
    expect(await run()).toEqual(await run());
  });

  it('a flush makes durable only the writes acknowledged before it was issued', async () => {
    // In order, a flush issued alongside a write it follows covers it; with inFlight it need not.
    const inOrder = layer();
    await Promise.all([inOrder.layer.devices.meta.write(0, bytes(7)), inOrder.layer.devices.meta.flush()]);
    await inOrder.layer.powerLoss('drop');
    expect(inOrder.backends.meta.bytes[0]).toBe(7);

    for (const order of [[0], [1]]) {
      const { layer: l, backends } = layer({ inFlight: { order } });
      await Promise.all([l.devices.meta.write(0, bytes(7)), l.devices.meta.flush()]);
      await l.powerLoss('drop');
      expect(backends.meta.bytes[0]).toBe(0);
    }
    const { layer: l, backends } = layer({ inFlight: {} });
    await l.devices.meta.write(0, bytes(7));
    await Promise.all([l.devices.meta.write(SS, bytes(8)), l.devices.meta.flush()]);
    await l.powerLoss('drop');
    expect([backends.meta.bytes[0], backends.meta.bytes[SS]]).toEqual([7, 0]);
  });

  it('a crash leaves every write in flight, each surviving or not on its own, and rejects them all', async () => {
    const { layer: l, backends } = layer({ inFlight: {}, crashAt: [2] });
    const a = l.devices.source.write(0, bytes(1));
    const b = l.devices.source.write(SS, bytes(2));
    const c = l.devices.source.read(2 * SS, SS);
    const settled = await Promise.allSettled([a, b, c]);
    expect(settled.map((s) => s.status === 'rejected' && s.reason instanceof CrashError)).toEqual([true, true, true]);
    expect(l.pending().map((w) => [w.point, w.inFlight])).toEqual([
      [0, true],
      [1, true],
    ]);
    expect(l.trace.map((e) => e.outcome)).toEqual(['unfinished', 'unfinished', 'crash']);
    await l.powerLoss('subset', { mode: 'subset', survivors: [{ point: 1 }] });
    expect([backends.source.bytes[0], backends.source.bytes[SS]]).toEqual([0, 2]);
  });

  it('a power loss between calls abandons what the engine left in flight', async () => {
    const { layer: l } = layer({ inFlight: {} });
    const dropped = l.devices.source.write(0, bytes(1));
    await l.powerLoss('keep');
    await expect(dropped).rejects.toBeInstanceOf(CrashError);
    expect(l.trace.map((e) => e.outcome)).toEqual(['unfinished']);
  });

  it('a read returns what is acknowledged when it completes', async () => {
    const reads = new Set<number>();
    for (let i = 0; i < 16; i++) {
      const { layer: l } = layer({ inFlight: {}, seed: `r-${i}` });
      const [, got] = await Promise.all([l.devices.source.write(0, bytes(9)), l.devices.source.read(0, SS)]);
      reads.add(got[0]!);
    }
    expect([...reads].sort()).toEqual([0, 9]);
  });
});

describe('completion orders', () => {
  it('a script is taken first, then the seed; a decision of one candidate is no decision', () => {
    const order = new CompletionOrder(seededRng('x'), [2, 5]);
    expect([order.pick(1), order.pick(3), order.pick(2)]).toEqual([0, 2, 1]);
    expect(order.decisions).toEqual([
      { candidates: 3, chosen: 2 },
      { candidates: 2, chosen: 1 },
    ]);
    expect(new CompletionOrder(undefined).pick(4)).toBe(0);
  });

  it('the search enumerates every order of a tree of decisions once', () => {
    // Decisions: first of 3, then (after choosing 0 only) one of 2: orders 00, 01, 1, 2.
    const run = (script: number[]) => {
      const o = new CompletionOrder(undefined, script);
      const first = o.pick(3);
      if (first === 0) o.pick(2);
      return o.decisions;
    };
    const search = new OrderSearch(100, 8);
    const seen: number[][] = [];
    for (let s = search.next(); s !== undefined; s = search.next()) {
      const decisions = run(s);
      seen.push(decisions.map((d) => d.chosen));
      search.ran(decisions);
    }
    expect(seen).toEqual([[0, 0], [0, 1], [1], [2]]);
    expect(search.truncated).toBe(false);
    const bounded = new OrderSearch(2, 8);
    for (let s = bounded.next(); s !== undefined; s = bounded.next()) bounded.ran(run(s));
    expect([bounded.tried, bounded.truncated]).toEqual([2, true]);
  });
});
