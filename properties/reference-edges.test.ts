/**
 * The reference engine at its edges, on generated operations with no faults: calls made in a state
 * that does not allow them, and P as `inspect()` reports it. The harness never makes those calls
 * (docs/contract.md) and reads P only where the oracle's rules need it, so no other property
 * judges these: a `startRestore` during a restore must be refused and change nothing, a `step()`
 * on a fractured pair must answer done without any I/O (on both step paths, `concurrentHost` 0
 * and 1), and P must be clear while fractured, within D and within this restore's host writes
 * while restoring, and set for every extent a protected restore's host write touched (with
 * `deferProtection` too, where memory holds it until the flush). Clean reopens (the host's flush,
 * then recovery on the same devices) put P read back from disk under the same checks.
 *
 * Engine bugs each check was seen to catch (engine.ts mutated by hand, then restored): inspect()
 * reporting P while fractured, or never; startRestore not refusing a second start, or clearing P
 * before it refuses; step() or stepInParts without the fractured check; a start that keeps the
 * last restore's P; P set without D; a deferred write's P not set in memory, or never written at
 * the flush; recovery dropping a protected restore's P.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BlockDevice } from '../src/devices/block-device.js';
import type { MemoryDevice } from '../src/devices/memory-device.js';
import { EngineStateError, type EngineFactory, extentsOf, type Geometry, type RestoreEngine } from '../src/engine/contract.js';
import { engineOptionsArb, geometryArb, initialArb } from '../src/harness/arbitraries.js';
import { formattedDevices } from '../src/harness/checker/set-up.js';
import { numericSeed } from '../src/harness/explore.js';
import { hostWriteData } from '../src/harness/sector-data.js';
import { RUNS, SEED } from './settings.js';

/**
 * The engine's module, loaded inside the test rather than imported at the top: a mutant that makes
 * the module throw when loaded then fails the test instead of leaving a file that never loads
 * (which Stryker's vitest runner counts as no test failing). See properties/engine-input.test.ts.
 */
const engineModule = () => import('../src/engine/reference/index.js');

type Op =
  | { readonly op: 'write'; readonly sector: number; readonly sectors: number; readonly pattern: number }
  | { readonly op: 'read'; readonly sector: number; readonly sectors: number }
  | { readonly op: 'flush' }
  | { readonly op: 'startRestore'; readonly protect: boolean }
  | { readonly op: 'step'; readonly count: number }
  /** Steps until done, then a step on the fractured pair the completion left. */
  | { readonly op: 'finish' }
  /** The host's flush, then the engine opened again on the same devices: no crash. */
  | { readonly op: 'reopen' };

function opsArb(geometry: Geometry): fc.Arbitrary<Op[]> {
  const sectors = geometry.volumeSize / geometry.sectorSize;
  const range = fc.nat({ max: sectors - 1 }).chain((sector) => fc.record({ sector: fc.constant(sector), sectors: fc.integer({ min: 1, max: Math.min(sectors - sector, 2 * geometry.extentSectors) }) }));
  const op = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(range, fc.nat({ max: 255 })).map(([r, pattern]): Op => ({ op: 'write', ...r, pattern })) },
    { weight: 1, arbitrary: range.map((r): Op => ({ op: 'read', ...r })) },
    { weight: 1, arbitrary: fc.constant<Op>({ op: 'flush' }) },
    { weight: 3, arbitrary: fc.boolean().map((protect): Op => ({ op: 'startRestore', protect })) },
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 3 }).map((count): Op => ({ op: 'step', count })) },
    { weight: 1, arbitrary: fc.constant<Op>({ op: 'finish' }) },
    { weight: 1, arbitrary: fc.constant<Op>({ op: 'reopen' }) },
  );
  // Around the drawn operations, every edge at least once: a step before any restore; then a
  // restore completed and a step after it, a protected restore with a host write, a second start
  // refused, and clean reopens while restoring and once fractured again.
  const edges = fc.tuple(range, fc.nat({ max: 255 })).map(([r, pattern]): Op[] => [
    { op: 'finish' },
    { op: 'startRestore', protect: true },
    { op: 'write', ...r, pattern },
    { op: 'startRestore', protect: false },
    { op: 'reopen' },
    { op: 'finish' },
    { op: 'reopen' },
  ]);
  return fc.tuple(fc.array(op, { maxLength: 16 }), edges).map(([drawn, end]): Op[] => [{ op: 'step', count: 1 }, ...drawn, ...end]);
}

const caseArb = geometryArb.chain((geometry) =>
  fc.record({
    geometry: fc.constant(geometry),
    initial: initialArb(geometry),
    // Both step paths (`concurrentHost` 0: step(), 1: stepInParts), each with eager and deferred protection.
    options: fc.tuple(engineOptionsArb(geometry), fc.boolean()).map(([options, deferProtection]) => ({ ...options, concurrentHost: options['concurrentHost'] ?? 0, deferProtection })),
    ops: opsArb(geometry),
  }),
);

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : a.length;
}

/** A device that counts every I/O issued to it. */
function counting(device: BlockDevice): BlockDevice & { ios: number } {
  const wrapped = {
    ios: 0,
    size: device.size,
    sectorSize: device.sectorSize,
    read: (o: number, l: number) => (wrapped.ios++, device.read(o, l)),
    write: (o: number, d: Uint8Array, opts?: { fua?: boolean }) => (wrapped.ios++, device.write(o, d, opts)),
    flush: () => (wrapped.ios++, device.flush()),
  };
  return wrapped;
}

async function runCase(factory: EngineFactory, geometry: Geometry, memory: Record<'source' | 'clone' | 'meta', MemoryDevice>, ops: readonly Op[]): Promise<void> {
  const devices = { source: counting(memory.source), clone: counting(memory.clone), meta: counting(memory.meta) };
  let engine: RestoreEngine = await factory.open(devices, geometry);
  let restoring = false;
  let protect = false;
  let restoresCompleted = 0;
  /** Extents the host's writes touched since the current restore started. */
  let touched = new Set<number>();
  /** How often each edge was reached: every case must reach each, or it proves nothing there. */
  const reached = { startWhileRestoring: 0, stepFracturedBeforeRestore: 0, stepFracturedAfterRestore: 0, protectedWrite: 0, reopenRestoring: 0, reopenFractured: 0 };

  const snapshot = async () => ({
    status: await engine.status(),
    maps: await engine.inspect!(),
    bytes: { source: memory.source.bytes.slice(), clone: memory.clone.bytes.slice(), meta: memory.meta.bytes.slice() },
  });
  /** Nothing changed: status, maps, and every device's bytes (compared by hand: vitest's deep equality of kilobytes is slow). */
  const unchanged = (before: Awaited<ReturnType<typeof snapshot>>, after: Awaited<ReturnType<typeof snapshot>>, what: string) => {
    expect(after.status, `${what}: status`).toEqual(before.status);
    expect(after.maps, `${what}: inspect()`).toEqual(before.maps);
    for (const name of ['source', 'clone', 'meta'] as const) expect(firstDifference(before.bytes[name], after.bytes[name]), `${what}: first changed byte of ${name}`).toBe(-1);
  };
  const ios = () => devices.source.ios + devices.clone.ios + devices.meta.ios;

  const stepWhileFractured = async () => {
    const before = await snapshot();
    const issued = ios();
    expect(await engine.step(), 'step() on a fractured pair').toEqual({ remaining: 0, done: true });
    expect(ios() - issued, 'I/O issued by step() on a fractured pair').toBe(0);
    unchanged(before, await snapshot(), 'step() on a fractured pair');
    if (restoresCompleted === 0) reached.stepFracturedBeforeRestore++;
    else reached.stepFracturedAfterRestore++;
  };

  const stepOnce = async (): Promise<boolean> => {
    const { done } = await engine.step();
    if (done) {
      restoring = false;
      restoresCompleted++;
    }
    return done;
  };

  const checkP = async (where: string) => {
    const { delta, protected: p } = await engine.inspect!();
    expect((await engine.status()).state, `${where}: status`).toBe(restoring ? 'restoring' : 'fractured');
    const set = p.flatMap((bit, e) => (bit ? [e] : []));
    if (!restoring) {
      expect(set, `${where}: P bits while fractured`).toEqual([]);
      return;
    }
    expect(set.filter((e) => !touched.has(e)), `${where}: P bits of extents the host did not write in this restore`).toEqual([]);
    expect(set.filter((e) => !delta[e]), `${where}: P bits outside D`).toEqual([]);
    // A protected restore never drops P before completion, and a clean reopen keeps what the flush made durable.
    if (protect) expect([...touched].filter((e) => !p[e]).sort((a, b) => a - b), `${where}: extents the host wrote in this protected restore without their P bit`).toEqual([]);
  };

  await checkP('opened');
  for (const [i, op] of ops.entries()) {
    const where = `op ${i} (${JSON.stringify(op)})`;
    switch (op.op) {
      case 'write': {
        await engine.writeSource(op.sector * geometry.sectorSize, hostWriteData(op.pattern, op.sector, op.sectors, geometry.sectorSize));
        if (!restoring) break;
        const { first, last } = extentsOf(geometry, op.sector * geometry.sectorSize, op.sectors * geometry.sectorSize);
        for (let e = first; e <= last; e++) touched.add(e);
        if (!protect) break;
        // Right after the acknowledged write, before any flush: with deferProtection, memory holds these bits.
        const { protected: p } = await engine.inspect!();
        const unprotected = [];
        for (let e = first; e <= last; e++) if (!p[e]) unprotected.push(e);
        expect(unprotected, `${where}: extents this protected write touched without their P bit`).toEqual([]);
        reached.protectedWrite++;
        break;
      }
      case 'read':
        await engine.readSource(op.sector * geometry.sectorSize, op.sectors * geometry.sectorSize);
        break;
      case 'flush':
        await engine.flushSource();
        break;
      case 'startRestore':
        if (restoring) {
          const before = await snapshot();
          await expect(engine.startRestore({ protect: op.protect }), `${where}: startRestore during a restore`).rejects.toBeInstanceOf(EngineStateError);
          unchanged(before, await snapshot(), `${where}: a refused startRestore`);
          reached.startWhileRestoring++;
        } else {
          await engine.startRestore({ protect: op.protect });
          restoring = true;
          protect = op.protect;
          touched = new Set();
        }
        break;
      case 'step':
        if (!restoring) await stepWhileFractured();
        else for (let n = 0; n < op.count && !(await stepOnce()); n++);
        break;
      case 'finish': {
        let steps = 0;
        while (restoring && !(await stepOnce())) expect(++steps, `${where}: the restore does not end`).toBeLessThan(1000);
        await stepWhileFractured();
        break;
      }
      case 'reopen':
        await engine.flushSource();
        engine = await factory.open(devices, geometry);
        if (restoring) reached.reopenRestoring++;
        else reached.reopenFractured++;
        break;
    }
    await checkP(where);
  }
  for (const [edge, count] of Object.entries(reached)) expect(count, `edge ${edge} never reached`).toBeGreaterThan(0);
}

describe('the reference engine at its edges (no faults)', () => {
  it(`refuses or ignores out-of-state calls, changing nothing, and reports P within its bounds (${RUNS} cases)`, async () => {
    const { createReferenceEngine, referenceEngine } = await engineModule();
    const drawn = new Set<string>();
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ geometry, initial, options, ops }) => {
        drawn.add(`concurrentHost ${options.concurrentHost}, deferProtection ${options.deferProtection}`);
        const memory = await formattedDevices(referenceEngine, { geometry, initial, workload: [], crashes: [], eio: [] });
        await runCase(createReferenceEngine(options), geometry, memory, ops);
      }),
      { seed: numericSeed(SEED), numRuns: RUNS },
    );
    // Every combination drawn: a handful of runs (PRESTORE_RUNS) may draw fewer, the default draws each many times.
    if (RUNS >= 50) expect([...drawn].sort()).toEqual(['concurrentHost 0, deferProtection false', 'concurrentHost 0, deferProtection true', 'concurrentHost 1, deferProtection false', 'concurrentHost 1, deferProtection true']);
  });
});
