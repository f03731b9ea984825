/**
 * A shard that stops on an error is no pass: the runs after the error never ran, so a scan (what a
 * worker of `explore --workers N` does) must fail as loudly as one-thread explore does.
 */
import { expect, it } from 'vitest';
import type { EngineFactory } from '../engine/contract.js';
import { referenceEngine } from '../engine/reference/index.js';
import { explore, scanShard } from './explore.js';

/** The reference engine, until its sixth format breaks the protocol: an error, not a finding. */
function breaksAfter(formats: number): EngineFactory {
  let n = 0;
  // Without withOptions, whose tuned engine would format without breaking.
  const { withOptions: _, ...base } = referenceEngine;
  return {
    ...base,
    name: 'breaks',
    format: async (...args) => {
      if (++n > formats) throw Object.assign(new Error('the engine process broke the protocol'), { name: 'EngineProtocolError' });
      return referenceEngine.format(...args);
    },
  };
}

it('a shard scan that meets an error throws it, as explore does', async () => {
  await expect(explore(breaksAfter(5), { seed: 'errors', runs: 20 })).rejects.toThrow(/broke the protocol/);
  await expect(scanShard(breaksAfter(5), { seed: 'errors', runs: 20, shard: { index: 1, count: 2 } })).rejects.toThrow(/broke the protocol/);
});
