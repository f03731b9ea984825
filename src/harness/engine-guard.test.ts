/**
 * The guard: an engine that answers with a value of the wrong shape, fails to format, or never
 * returns from a call gets no verdict, green or red: every harness entry point (explore, exhaust,
 * replay) ends with EngineMisbehaviourError naming the engine, the call and the value. And the
 * guard changes nothing for an engine that behaves: the same I/O trace, the same verdict.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EngineFactory, RestoreEngine } from '../engine/contract.js';
import { createReferenceEngine, referenceEngine } from '../engine/reference/index.js';
import { EngineMisbehaviourError } from '../errors.js';
import { stdioEngine } from '../protocol/stdio-engine.js';
import type { Case } from './case.js';
import { guardEngine, MAX_METADATA_BYTES } from './engine-guard.js';
import { exhaust } from './exhaust.js';
import { explore } from './explore.js';
import { replay } from './replay.js';
import { replayCommand } from './replay-line.js';
import { runCase } from './run-case.js';
import { bundledScenariosDir, loadScenario } from './scenario-file.js';

const METHODS = ['readSource', 'writeSource', 'flushSource', 'readClone', 'writeClone', 'flushClone', 'startRestore', 'step', 'status', 'inspect', 'dispose'] as const;
type Method = (typeof METHODS)[number];

/** The reference engine named `name`, with some factory members and some engine methods replaced. */
function hostile(name: string, change: { factory?: Partial<EngineFactory>; engine?: Partial<Record<Method, (...args: never[]) => unknown>> }): EngineFactory {
  // Without withOptions: the tuned engine it returns would be the reference, not this hostile one.
  const { withOptions: _, ...base } = createReferenceEngine({}, name);
  return {
    ...base,
    async open(devices, geometry) {
      const engine = (await base.open(devices, geometry)) as unknown as Record<string, (...args: unknown[]) => unknown>;
      const methods = Object.fromEntries(METHODS.filter((m) => engine[m] !== undefined).map((m) => [m, engine[m]!.bind(engine)]));
      return { ...methods, ...change.engine } as unknown as RestoreEngine;
    },
    ...change.factory,
  };
}

const CASE: Case = {
  geometry: { sectorSize: 512, extentSectors: 2, volumeSize: 5 * 512 },
  initial: { differ: 'all', delta: 'exact' },
  workload: [{ op: 'startRestore', protect: true }, { op: 'write', volume: 'source', sector: 2, sectors: 1, pattern: 1 }, { op: 'read', volume: 'source', sector: 0, sectors: 5 }, { op: 'step', count: 2 }],
  crashes: [{ point: 14, mode: 'torn' }],
  eio: [],
};

const scenario = await loadScenario(join(bundledScenariosDir(), 'fractured-writes.json'), 'fractured-writes');

async function misbehaviour(run: Promise<unknown>): Promise<string> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EngineMisbehaviourError);
  return (error as Error).message;
}

describe('values of the wrong shape', () => {
  it.each([
    ['status() undefined', hostile('status-undefined', { engine: { status: async () => undefined } }), 'engine "status-undefined": status() returned undefined; it must be { state: "fractured" } or { state: "restoring"'],
    ['status() 17', hostile('status-17', { engine: { status: async () => 17 } }), 'engine "status-17": status() returned 17;'],
    ['status() restoring without protect', hostile('status-half', { engine: { status: async () => ({ state: 'restoring', extentsRemaining: 1 }) } }), 'status() returned {"state":"restoring","extentsRemaining":1}'],
    ['readSource a string', hostile('read-string', { engine: { readSource: async () => 'abc' } }), 'engine "read-string": readSource() returned the string "abc"; it must be a Uint8Array of the'],
    ['readSource too short', hostile('read-short', { engine: { readSource: async (_o: number, length: number) => new Uint8Array(length - 512) } }), 'readSource() returned 7680 bytes; it must be a Uint8Array of the 8192 bytes asked for'],
    ['step() garbage', hostile('step-garbage', { engine: { step: async () => 'garbage' } }), 'engine "step-garbage": step() returned the string "garbage"; it must be { remaining: 0..'],
    ['step() a negative remaining', hostile('step-negative', { engine: { step: async () => ({ remaining: -1, done: false }) } }), 'step() returned {"remaining":-1,"done":false}'],
    ['step() done with extents left', hostile('step-done', { engine: { step: async () => ({ remaining: 2, done: true }) } }), 'and remaining 0 when done'],
    ['inspect() maps of the wrong length', hostile('inspect-short', { engine: { inspect: async () => ({ delta: [true], protected: [false] }) } }), 'inspect() returned {"delta":[true],"protected":[false]}; it must be { delta, protected }, each an array of'],
    ['open() not an engine', hostile('open-empty', { factory: { open: async () => ({}) as RestoreEngine } }), 'engine "open-empty": open() returned {}; the engine it opened lacks readSource(), writeSource()'],
    ['metadataSize -1', hostile('meta-negative', { factory: { metadataSize: () => -1 } }), 'engine "meta-negative": metadataSize() returned -1; it must be a whole number of bytes from 1 to 1073741824 (1 GiB)'],
    ['metadataSize 2^45', hostile('meta-huge', { factory: { metadataSize: () => 2 ** 45 } }), 'metadataSize() returned 35184372088832; it must be a whole number of bytes from 1 to'],
    ['metadataSize a string', hostile('meta-string', { factory: { metadataSize: () => '4096' as unknown as number } }), 'metadataSize() returned the string "4096"'],
    ['metadataSize throwing', hostile('meta-throws', { factory: { metadataSize: () => { throw new TypeError('no geometry like that') } } }), 'engine "meta-throws": metadataSize() threw: no geometry like that'],
    ['format() throwing', hostile('format-throws', { factory: { format: async () => { throw new Error('disk on fire') } } }), 'engine "format-throws": format() failed: disk on fire'],
  ])('%s', async (_, engine, message) => {
    expect(await misbehaviour(exhaust(engine, scenario, { seed: 'guard' }))).toContain(message);
  });

  it('metadataSize 2^50 over the stdio protocol', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prestore-guard-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const script = join(dir, 'huge-metadata.cjs');
    writeFileSync(
      script,
      `const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
send({ type: 'hello', protocol: 'prestore-engine', version: 1, capabilities: [] });
require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  send(m.method === 'metadataSize' ? { type: 'result', id: m.id, value: 2 ** 50 } : { type: 'error', id: m.id, error: { kind: 'other', message: 'no' } });
}).on('close', () => process.exit(0));
`,
    );
    const message = await misbehaviour(exhaust(stdioEngine(`node ${script}`), scenario, { seed: 'guard' }));
    expect(message).toContain(`metadataSize() returned ${2 ** 50}; it must be a whole number of bytes from 1 to ${MAX_METADATA_BYTES}`);
  });

  it('through explore and replay too', async () => {
    const engine = hostile('status-17', { engine: { status: async () => 17 } });
    expect(await misbehaviour(explore(engine, { seed: 'guard', runs: 3 }))).toContain('status() returned 17');
    expect(await misbehaviour(replay(engine, replayCommand('--engine ./status-17.js', CASE, 'guard')))).toContain('status() returned 17');
  });
});

describe('calls that never return', () => {
  it('a pending promise with no timer alive ends at the call timeout, naming the call', { timeout: 10_000 }, async () => {
    const engine = hostile('pending', { factory: { open: () => new Promise<never>(() => {}) } });
    expect(await misbehaviour(exhaust(engine, scenario, { seed: 'guard', callTimeoutMs: 50 }))).toContain('engine "pending": open() did not return within 50 ms, the call timeout (a hang?)');
  });

  it('a pending promise with a timer alive ends there too; the hung engine is not called again', { timeout: 10_000 }, async () => {
    const timers: NodeJS.Timeout[] = [];
    // Disposals of the instance that hung (earlier instances, ended by a power loss, are disposed as ever).
    let hung = false;
    let disposed = 0;
    const later = () => new Promise<never>(() => ((hung = true), timers.push(setInterval(() => {}, 1000))));
    const engine = hostile('stuck-step', { engine: { step: later, dispose: async () => void (hung && disposed++) } });
    try {
      expect(await misbehaviour(explore(engine, { seed: 'guard', runs: 5, callTimeoutMs: 50 }))).toContain('engine "stuck-step": step() did not return within 50 ms');
      expect(disposed).toBe(0);
    } finally {
      for (const t of timers) clearInterval(t);
    }
  });

  it('leaves no timer holding the process once the campaign is over', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    await explore(referenceEngine, { seed: 'guard', runs: 3, callTimeoutMs: 600_000 });
    expect(timers()).toBe(before);
  });

  it('a bad callTimeoutMs is refused, naming it', async () => {
    await expect(exhaust(referenceEngine, scenario, { seed: 'guard', callTimeoutMs: 0 })).rejects.toThrow('callTimeoutMs: 0 must be a whole number of milliseconds');
  });
});

describe('an engine that behaves', () => {
  it('gives the same I/O trace and verdict guarded as bare', async () => {
    const bare = await runCase(referenceEngine, CASE, { seed: 'guard', recordData: true });
    const guarded = await runCase(guardEngine(referenceEngine), CASE, { seed: 'guard', recordData: true });
    expect(guarded.trace).toEqual(bare.trace);
    expect(guarded.violations).toEqual(bare.violations);
    expect(bare.crashStates).toBeGreaterThan(0);
    expect(bare.trace.length).toBeGreaterThan(0);
  });

  it('publishes every call to the monitor, begun and ended in turn', async () => {
    const seen: string[] = [];
    const engine = guardEngine(referenceEngine, { callMonitor: { begin: (call) => seen.push(`+${call}`), end: () => seen.push('-') } });
    await runCase(engine, CASE, { seed: 'guard' });
    expect(seen.slice(0, 4)).toEqual(['+engine "reference": metadataSize()', '-', '+engine "reference": format()', '-']);
    expect(seen.filter((s) => s.startsWith('+')).length).toBe(seen.filter((s) => s === '-').length);
    expect(seen).toContain('+engine "reference": step()');
  });
});
