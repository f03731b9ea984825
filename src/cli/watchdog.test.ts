/**
 * The built binary against in-process engines that take the run down: one that calls
 * `process.exit(0)`, one whose call never settles (with a timer alive, and with none), one that
 * loops without end, one that throws where no promise carries the error (a timer, an unhandled
 * rejection), without `--workers` (the binary, spawned) and with (in this process, the
 * worker threads watched from here). None may exit 0 or hang: each ends with exit 2 and a message
 * naming the engine and the call. The binary and the workers run from dist/, which `npm test`
 * builds first and which is rebuilt here when a source is newer than it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtBinary } from './built-binary.js';
import { packageRoot } from '../harness/scenario-file.js';
import type { CommandIo } from './command.js';
import { loadCommands, runCli } from './dispatch.js';
import { WATCHED_COMMANDS } from './watched-cli.js';
import { type SlotState, uncaughtEngineMessage } from './watchdog.js';

const root = packageRoot();
let bin = '';
const dir = mkdtempSync(join(tmpdir(), 'prestore-watchdog-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(() => void (bin = builtBinary()), 180_000);

/** The reference engine with `open` or `step` replaced by `body`. */
function engine(name: string, method: 'open' | 'step', body: string): string {
  const file = join(dir, `${name}.mjs`);
  writeFileSync(
    file,
    `import { createReferenceEngine } from ${JSON.stringify(join(root, 'dist', 'src', 'engine', 'reference', 'index.js'))};
// Without withOptions, whose tuned engine would not misbehave.
const { withOptions: _, ...base } = createReferenceEngine({}, ${JSON.stringify(name)});
const misbehave = async () => { ${body} };
export default {
  ...base,
  async open(devices, geometry) {
    ${method === 'open' ? 'return misbehave();' : ''}
    const engine = await base.open(devices, geometry);
    return { ...Object.fromEntries(['readSource', 'writeSource', 'flushSource', 'readClone', 'writeClone', 'flushClone', 'startRestore', 'status', 'inspect'].map((m) => [m, engine[m].bind(engine)])), step: misbehave };
  },
};
`,
  );
  return `./${name}.mjs`;
}

const ENGINES = {
  'exit-open': ['open', 'process.exit(0);'],
  'exit-step': ['step', 'process.exit(0);'],
  'pending-timer': ['open', 'setInterval(() => {}, 1000); return new Promise(() => {});'],
  'pending-no-timer': ['open', 'return new Promise(() => {});'],
  'busy-open': ['open', 'for (;;) {}'],
  'busy-step': ['step', 'for (;;) {}'],
  'throw-timer': ['step', "setTimeout(() => { throw new Error('boom in a timer'); }, 0); return new Promise(() => {});"],
  'reject-unhandled': ['open', "Promise.reject(new Error('a dropped rejection')); return new Promise(() => {});"],
} as const;
type Name = keyof typeof ENGINES;

/** The built binary, spawned: the only way to see what `process.exit` in the command's own thread does. */
function spawned(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: dir, timeout: 60_000, env: { ...process.env, CI: '1' } }, (error, out, err) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, out, err });
    });
  });
}

/** The command line in this process: `--workers` threads are watched from here. */
async function inProcess(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const [out, err]: string[][] = [[], []];
  const sink = (to: string[]) => ({ write: (s: string) => to.push(String(s)) > 0 }) as unknown as CommandIo['stdout'];
  const code = await runCli(args, { stdout: sink(out), stderr: sink(err), env: {}, cwd: dir });
  return { code, out: out.join(''), err: err.join('') };
}

/** What the run must say: the engine, the call, and how it ended. */
function expected(name: Name, workers: number): RegExp {
  const [method] = ENGINES[name];
  const where = workers > 1 ? ' in worker \\d' : '';
  const call = `prestore exhaust: engine "${name}": ${method}\\(\\)`;
  if (name.startsWith('exit')) return new RegExp(`${call} ended the process${where} \\(process\\.exit\\?\\) with exit code 0; the run did not finish`);
  // Only the watchdog can stop a busy loop; a pending call is ended by its own timer or, on a machine too busy to run that timer in time, by the watchdog.
  if (name === 'throw-timer' || name === 'reject-unhandled') return new RegExp(`${call} threw an error nobody caught${where} \\(thrown in a timer, or a rejection left unhandled\\?\\): (boom in a timer|a dropped rejection); the run did not finish`);
  if (name.startsWith('busy')) return new RegExp(`${call} did not return within 200 ms and blocked its thread${where} \\(a busy loop\\?\\)`);
  return new RegExp(`${call} did not return within 200 ms`);
}

describe.concurrent('an in-process engine that ends or blocks the run gets exit 2, never a verdict', () => {
  const cases: (readonly [Name, number])[] = [
    ['exit-open', 1],
    ['pending-timer', 1],
    ['pending-no-timer', 1],
    ['busy-open', 1],
    ['exit-step', 2],
    ['pending-no-timer', 2],
    ['busy-step', 2],
    ['throw-timer', 1],
    ['reject-unhandled', 1],
    ['throw-timer', 2],
  ];
  it.each(cases)('%s, --workers %i', { timeout: 60_000 }, async (name, workers) => {
    const [method, body] = ENGINES[name];
    const args = ['exhaust', 'protected-restore', '--engine', engine(name, method, body), '--workers', String(workers), '--call-timeout', '200'];
    const r = workers > 1 ? await inProcess(args) : await spawned(args);
    expect(r.code, r.out + r.err).toBe(2);
    expect(r.out).not.toContain('every check held');
    expect(r.out).not.toContain('cases');
    expect(r.err).toMatch(expected(name, workers));
  });

  it('a watched run of an engine that behaves passes its output and exit code through', { timeout: 60_000 }, async () => {
    const [ok, failing] = await Promise.all([spawned(['exhaust', 'fractured-writes']), spawned(['exhaust', 'protected-restore', '--engine', 'mutant:reads-from-source', '--stop-on-first'])]);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out.split('\n')[0]).toBe('prestore exhaust: engine reference, seed prestore');
    expect(ok.out).toContain('every check held');
    expect(failing.code, failing.err).toBe(1);
    expect(failing.out).toContain('VIOLATION of rule 2 (reads-right)');
  });
});

it('every command that takes an engine runs watched', async () => {
  const takingEngines = (await loadCommands()).filter((c) => c.help.includes('--engine-cmd')).map((c) => c.name);
  expect([...WATCHED_COMMANDS].sort()).toEqual(takingEngines.sort());
});

describe('whose an error nobody caught is', () => {
  const inCall: SlotState = { seq: 1, timeoutMs: 200, call: 'engine "x": step()', ending: false };
  const idle: SlotState = { seq: 2, timeoutMs: 200, call: undefined, ending: false };
  const thrownIn = (file: string) => Object.assign(new Error('boom'), { stack: `Error: boom\n    at tick (node:internal/timers:1:1)\n    at Timeout._onTimeout (file://${file}:3:9)` });

  it("is prestore's when prestore's own code threw it, in an engine call or not", () => {
    const ours = new Error('a bug of ours');
    expect(uncaughtEngineMessage(ours, inCall)).toBeUndefined();
    expect(uncaughtEngineMessage(ours, idle)).toBeUndefined();
    expect(uncaughtEngineMessage('no stack', idle)).toBeUndefined();
  });

  it("is the engine's when code outside prestore threw it, named by the call or the file", () => {
    expect(uncaughtEngineMessage(thrownIn(join(dir, 'engine.mjs')), inCall)).toMatch(/^engine "x": step\(\) threw an error nobody caught .*: boom; the run did not finish/);
    expect(uncaughtEngineMessage(thrownIn(join(dir, 'engine.mjs')), idle, ' in worker 2')).toContain(`code outside prestore (${join(dir, 'engine.mjs')}) threw an error nobody caught in worker 2`);
    expect(uncaughtEngineMessage('no stack', inCall)).toContain('engine "x": step() threw an error nobody caught');
  });
});
