/**
 * What the package exports (src/index.ts) refuses bad input from code with an InputError naming
 * the option, instead of running on it: `createReferenceEngine({ queueDepth: 0 })` completed
 * restores that copied nothing, `copyBatch: 0` never finished, `explore` with `runs: 0` was green
 * on no case at all.
 */
import { describe, expect, it } from 'vitest';
import { InputError } from './errors.js';
import { createReferenceEngine, exhaust, explore, FaultLayer, MemoryDevice, referenceEngine, replay, runCase, serveEngine, stdioEngine, type Case, type EngineFactory, type ReferenceOptions } from './index.js';

function refused(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

async function refusedAsync(run: Promise<unknown>): Promise<string> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InputError);
  return (error as Error).message;
}

/** A restore of a pair that differs everywhere, run to its end and checked. */
const RESTORE: Case = {
  geometry: { sectorSize: 512, extentSectors: 1, volumeSize: 4 * 512 },
  initial: { differ: 'all', delta: 'exact' },
  workload: [{ op: 'startRestore', protect: true }],
  crashes: [],
  eio: [],
};

describe('createReferenceEngine', () => {
  it.each([
    [{ queueDepth: 0 }, 'createReferenceEngine: options.queueDepth: 0 must be a whole number from 1 to 1024'],
    [{ copyBatch: 0 }, 'createReferenceEngine: options.copyBatch: 0 must be a whole number from 1 to'],
    [{ copyBatch: 1.5 }, 'options.copyBatch: 1.5 must be a whole number'],
    [{ maxIoBytes: 0 }, 'options.maxIoBytes: 0 must be a whole number from 512 to 1073741824'],
    [{ queueDepth: '4' }, 'options.queueDepth: "4" must be a whole number'],
    [{ queuedepth: 4 }, 'createReferenceEngine: unknown option queuedepth (the options are copyBatch, maxIoBytes, queueDepth, concurrentHost, deferProtection)'],
    [{ deferProtection: 'yes' }, 'createReferenceEngine: options.deferProtection: "yes" must be true or false'],
    [{ deferProtection: 1 }, 'options.deferProtection: 1 must be true or false'],
    [{ concurrentHost: 2 }, 'createReferenceEngine: options.concurrentHost: 2 must be a whole number from 0 to 1'],
  ])('%j is refused', (options, message) => {
    expect(refused(() => createReferenceEngine(options as ReferenceOptions))).toContain(message);
  });

  it('refuses a name that is not a non-empty string, and an Engine that is not a ReferenceEngine', () => {
    expect(refused(() => createReferenceEngine({}, ''))).toContain('createReferenceEngine: name "" must be a non-empty string');
    expect(refused(() => createReferenceEngine({}, 'x', Object as never))).toContain('createReferenceEngine: Engine must be ReferenceEngine or a subclass of it');
  });

  it('takes an option given as undefined as its default: the restore completes and checks out', async () => {
    const engine = createReferenceEngine({ copyBatch: undefined, queueDepth: undefined, maxIoBytes: undefined });
    const run = await runCase(engine, RESTORE, { seed: 'options' });
    expect(run.violations).toEqual([]);
    expect(run.trace.some((e) => e.device === 'source' && e.op === 'write')).toBe(true);
  });
});

describe('the other constructors', () => {
  const device = () => MemoryDevice.zeroed(2048);
  it.each([
    ['MemoryDevice of a string', () => new MemoryDevice('abc' as never), 'memory: the bytes must be a Uint8Array'],
    ['MemoryDevice.zeroed(-1)', () => MemoryDevice.zeroed(-1), 'memory: size -1 must be a positive multiple of the sector size 512'],
    ['MemoryDevice with 100-byte sectors', () => new MemoryDevice(new Uint8Array(1000), 100), 'memory: sector size 100 must be a positive multiple of 512'],
    ['FaultLayer without a meta device', () => new FaultLayer({ source: device(), clone: device() } as never), 'FaultLayer: backends.meta must be a BlockDevice'],
    ['FaultLayer crashing at point -1', () => new FaultLayer({ source: device(), clone: device(), meta: device() }, { crashAt: [-1] }), 'FaultLayer: plan.crashAt[0]: -1 must be a whole number'],
    ['FaultLayer with an EIO plan missing sticky', () => new FaultLayer({ source: device(), clone: device(), meta: device() }, { eio: [{ point: 3 } as never] }), 'FaultLayer: plan.eio[0].sticky must be true or false'],
    ['FaultLayer with a misspelt plan', () => new FaultLayer({ source: device(), clone: device(), meta: device() }, { crashat: [1] } as never), 'FaultLayer: plan: unknown option crashat'],
    ['stdioEngine with no command', () => stdioEngine(''), 'stdioEngine: command "" must be a non-empty string'],
    ['stdioEngine with a timeout of 0', () => stdioEngine('x', { timeoutMs: 0 }), 'stdioEngine: options.timeoutMs: 0 must be a whole number from 1 to'],
    ['serveEngine of no factory', () => serveEngine({} as EngineFactory), 'serveEngine: factory is not an EngineFactory: it lacks name'],
  ])('%s', (_, construct, message) => {
    expect(refused(construct)).toContain(message);
  });
});

describe('campaign options', () => {
  it.each([
    ['explore with runs 0', () => explore(referenceEngine, { seed: 'x', runs: 0 }), 'explore: options.runs: 0 must be a whole number from 1 to'],
    ['explore with a misspelt option', () => explore(referenceEngine, { seed: 'x', run: 5 } as never), 'explore: unknown option run'],
    ['explore without a seed', () => explore(referenceEngine, {} as never), 'explore: options.seed must be a string'],
    ['exhaust with an unknown cache mode', () => exhaust(referenceEngine, {} as never, { seed: 'x', modes: ['bogus' as never] }), 'exhaust: options.modes must be a non-empty array of drop, keep, subset, torn'],
    ['exhaust at depth 3', () => exhaust(referenceEngine, {} as never, { seed: 'x', depth: 3 as never }), 'exhaust: options.depth must be 1 or 2'],
    ['exhaust with shard 3/2', () => exhaust(referenceEngine, {} as never, { seed: 'x', shard: { index: 3, count: 2 } }), 'exhaust: options.shard.index: 3 must be a whole number from 1 to 2'],
    ['replay with a misspelt option', () => replay(referenceEngine, 'c1.x', { engineArg: '--engine x' } as never), 'replay: unknown option engineArg'],
  ])('%s', async (_, run, message) => {
    expect(await refusedAsync(run())).toContain(message);
  });
});
