/**
 * Engine processes end, whole: each runs in a process group of its own that the harness ends with
 * everything the engine started; a run stopped by SIGINT or SIGTERM ends them too; and an engine
 * that hangs, says nothing or says garbage ends the run within --engine-timeout, exit 2, the
 * message naming what the harness waited for. The engines here ignore SIGTERM, SIGINT and SIGHUP
 * and fork a `sleep` that holds their standard output, as a careless engine's helper would.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TextSink } from '../cli/text-sink.js';
import { runCli } from '../cli/dispatch.js';
import { packageRoot } from '../harness/scenario-file.js';
import { MemoryDevice } from '../devices/memory-device.js';
import { allProcessesEnded, endRestingProcesses, stdioEngine } from './stdio-engine.js';

const dir = mkdtempSync(join(tmpdir(), 'prestore-processes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ENGINE = join(dir, 'engine.mjs');
writeFileSync(
  ENGINE,
  `import { createInterface } from 'node:readline';
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
const [mode, pids] = process.argv.slice(2);
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => {});
const child = spawn('sleep', ['30'], { stdio: 'inherit' });
appendFileSync(pids, process.pid + ' ' + child.pid + '\\n');
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
const hello = () => send({ type: 'hello', protocol: 'prestore-engine', version: 1, name: mode });
if (mode !== 'no-handshake') hello();
createInterface({ input: process.stdin }).on('line', (line) => {
  const call = JSON.parse(line);
  if (call.method === 'metadataSize') {
    if (mode === 'no-handshake') hello();
    return send({ type: 'result', id: call.id, value: 4096 });
  }
  if (call.method === 'open' && mode === 'hang-in-open') return appendFileSync(pids, 'open\\n');
  send({ type: 'result', id: call.id, value: null });
});
`,
);

let files = 0;
/** A fresh file the engine processes of one test list their pids in. */
function pidFile(): string {
  const file = join(dir, `pids-${++files}`);
  writeFileSync(file, '');
  return file;
}

/** Every pid a pid file lists (engines and their children). */
function pidsIn(file: string): number[] {
  return readFileSync(file, 'utf8')
    .split(/\s+/)
    .filter((w) => /^\d+$/.test(w))
    .map(Number);
}

/** The processes still running (zombies aside) that are one of `pids` or in a group one of them leads. */
function running(pids: readonly number[]): string[] {
  const rows = execFileSync('ps', ['-A', '-o', 'pid=,pgid=,stat=,args='], { encoding: 'utf8' }).split('\n');
  return rows
    .map((r) => r.trim().split(/\s+/))
    .filter(([pid, pgid, stat]) => stat !== undefined && !stat.startsWith('Z') && (pids.includes(Number(pid)) || pids.includes(Number(pgid))))
    .map((r) => r.join(' '));
}

/** SIGKILL takes effect soon, not at once: what is still running after a short wait. */
async function survivors(pids: readonly number[]): Promise<string[]> {
  for (let i = 0; i < 40 && running(pids).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  return running(pids);
}


async function cli(argv: string[]): Promise<{ code: number; stderr: string; ms: number }> {
  const stderr = new TextSink();
  const t0 = performance.now();
  const code = await runCli(argv, { stdout: new TextSink(), stderr, env: {}, cwd: packageRoot() });
  return { code, stderr: stderr.text, ms: performance.now() - t0 };
}

describe('an engine process that starts children', () => {
  // The audit is fixed per case (0 or 1), not left to its seeded draw: the draw is seeded from the
  // command, which holds a temporary path, so it would audit some runs and not others.
  it.each([
    ['a process per format and per open', false, 0, 6],
    ['a persistent process (ended with the command)', true, 0, 4],
    ['a persistent process, the instance audited in a fresh one too', true, 1, 6],
  ] as const)('leaves none behind, %s: metadataSize, format, open, and the end of the instance end the whole group', { timeout: 60_000 }, async (_, persistent, auditRate, processes) => {
    const pids = pidFile();
    const command = `sh -c 'sleep 30 & echo $$ $! >> ${pids}; exec node dist/src/protocol/serve-reference.js'`;
    const engine = stdioEngine(command, { timeoutMs: 20_000, persistent, auditRate });
    const geometry = { volumeSize: 4096, sectorSize: 512, extentSectors: 2 };
    const devices = { source: MemoryDevice.zeroed(4096, 512, 'source'), clone: MemoryDevice.zeroed(4096, 512, 'clone'), meta: MemoryDevice.zeroed(engine.metadataSize(geometry), 512, 'meta') };
    await engine.format(devices, geometry, 'all');
    const open = await engine.open(devices, geometry);
    await open.writeSource(0, new Uint8Array(512).fill(7));
    await open.dispose?.();
    endRestingProcesses();
    await allProcessesEnded();
    // metadataSize, then format and open in one process or in two (and the audit's own); each process with its sleep.
    expect(pidsIn(pids)).toHaveLength(processes);
    expect(await survivors(pidsIn(pids))).toEqual([]);
  });
});

describe('prestore stopped by a signal', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('%s ends the engine process and its children, though the engine ignores the signal', { timeout: 60_000 }, async (signal) => {
    const pids = pidFile();
    const prestore = spawn(process.execPath, ['dist/src/cli/main.js', 'explore', '--runs', '3', '--engine-cmd', `node ${ENGINE} hang-in-open ${pids}`], { cwd: packageRoot(), stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => prestore.on('exit', (code, sig) => resolve(sig ?? code)));
    for (let i = 0; i < 600 && !readFileSync(pids, 'utf8').includes('open'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(readFileSync(pids, 'utf8')).toContain('open');
    expect(running(pidsIn(pids)).length).toBeGreaterThan(0);
    prestore.kill(signal);
    expect(await exited).toBe(signal);
    expect(await survivors(pidsIn(pids))).toEqual([]);
  });
});

describe('every wait on an engine process is bounded by --engine-timeout', () => {
  // Long enough for node to start on a busy machine, where a node engine is used.
  it.each<[string, string, number, RegExp]>([
    ['prints nothing at all', 'sleep 30', 500, /the engine process "sleep 30" did not answer metadataSize within 500 ms/],
    ['answers its handshake with garbage, no line end', `sh -c 'printf garbage; sleep 30'`, 500, /did not answer metadataSize within 500 ms \(a hang\? --engine-timeout MS sets the bound\); it wrote "garbage" without ending the line/],
    ['gives no handshake to a long-lived process', `node ${ENGINE} no-handshake PIDS`, 4000, /the engine sent nothing for 4000 ms while the harness waited for the handshake/],
    ['hangs in open', `node ${ENGINE} hang-in-open PIDS`, 4000, /the engine sent nothing for 4000 ms while the harness waited for its answer to open/],
  ])('an engine that %s: exit 2 naming what was awaited, soon, nothing left running', { timeout: 60_000 }, async (_, command, bound, message) => {
    const pids = pidFile();
    const r = await cli(['explore', '--runs', '20', '--seed', 's', '--engine-timeout', String(bound), '--engine-cmd', command.replace('PIDS', pids)]);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
    // A few process starts and one timeout, never a timeout per case or per shrinking step.
    expect(r.ms).toBeLessThan(30_000);
    await allProcessesEnded();
    expect(await survivors(pidsIn(pids))).toEqual([]);
  });

  it('an engine answering metadataSize with null: exit 2, the line named', { timeout: 30_000 }, async () => {
    const r = await cli(['explore', '--runs', '2', '--engine-cmd', `sh -c 'echo null; sleep 30'`]);
    expect(r.stderr).toBe('prestore explore: the engine wrote a line that is not a JSON object when asked for metadataSize: "null"\n');
    expect(r.code).toBe(2);
  });

  it('an engine command that exits 7 is reported with its exit status and the command', { timeout: 30_000 }, async () => {
    const r = await cli(['explore', '--runs', '2', '--engine-cmd', `sh -c 'exec 0<&-; exit 7'`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`prestore explore: the engine process "sh -c 'exec 0<&-; exit 7'" exited with code 7 before it answered metadataSize\n`);
  });

  it('--engine-timeout is in the help of every command that takes an engine, with its default', async () => {
    for (const command of ['explore', 'exhaust', 'start', 'replay']) {
      const out = new TextSink();
      await runCli([command, '--help'], { stdout: out, stderr: out, env: {} });
      expect(out.text).toMatch(/--engine-timeout MS {7}with --engine-cmd: .*\n.*\n.*\(default 10000\)/);
    }
  });
});
