import { describe, expect, it } from 'vitest';
import type { EngineFactory } from '../engine/contract.js';
import { Lanes } from './lanes.js';

/** A factory standing for a lane: only its identity matters here. */
const lane = (name: string) => ({ name }) as EngineFactory;

/** Resolves after `n` turns of the microtask queue: tasks that end out of order. */
const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await Promise.resolve();
};

describe('Lanes', () => {
  it('runs item i on lane i mod k, one at a time per lane in order, and gives results in item order', async () => {
    const lanes = [lane('a'), lane('b'), lane('c')];
    const items = Array.from({ length: 10 }, (_, i) => i);
    const busy = new Set<string>();
    const seen: Record<string, number[]> = { a: [], b: [], c: [] };
    const work = new Lanes(lanes, items, async (on, item) => {
      expect(busy.has(on.name), `lane ${on.name} ran two items at once`).toBe(false);
      busy.add(on.name);
      seen[on.name]!.push(item);
      // Later items end sooner: results must still come back in item order.
      await turns(30 - 3 * item);
      busy.delete(on.name);
      return item * 10;
    });
    const results: number[] = [];
    for (const i of items) results.push(await work.take(i));
    await work.settle();
    expect(results).toEqual(items.map((i) => i * 10));
    expect(seen).toEqual({ a: [0, 3, 6, 9], b: [1, 4, 7], c: [2, 5, 8] });
  });

  it('starts no more than k items ahead, and settles the ones never taken, their errors dropped', async () => {
    const started: number[] = [];
    let ended = 0;
    const work = new Lanes([lane('a'), lane('b')], [0, 1, 2, 3, 4], async (_, item) => {
      started.push(item);
      await turns(5);
      ended++;
      if (item === 1) throw new Error('never taken');
      return item;
    });
    expect(await work.take(0)).toBe(0);
    expect(started).toEqual([0, 1]);
    await work.settle();
    expect(ended).toBe(2);
  });

  it('with one lane, is one at a time', async () => {
    const order: string[] = [];
    const work = new Lanes([lane('a')], [0, 1, 2], async (_, item) => {
      order.push(`start ${item}`);
      await turns(3);
      order.push(`end ${item}`);
      return item;
    });
    for (const i of [0, 1, 2]) await work.take(i);
    expect(order).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
  });
});
