/**
 * Report targets (--json, --junit, --save-failures) are checked before the campaign runs, and a
 * report never replaces what is not a regular file (a device, a FIFO, a symbolic link). A report
 * that still cannot be written after the run loses nothing else: the summary is printed, the
 * failure named, and a violation stays exit 1.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TextSink } from './text-sink.js';
import { referenceEngine } from '../engine/reference/index.js';
import { mutants } from '../mutants/catalogue.js';
import { runCli } from './dispatch.js';
import { type Harness, realSeams } from './seams.js';


const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'prestore-targets-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const root = process.getuid?.() === 0;

/** A directory no file can be created in: mode 0555, or for root (whom modes do not stop) /proc/self. */
function unwritableDir(): string {
  if (root) return '/proc/self';
  const dir = join(tempDir(), 'read-only');
  mkdirSync(dir, { mode: 0o555 });
  return dir;
}

/** A character device where it can do no harm if replaced: made in a temporary directory by root, else /dev/full. */
function characterDevice(): string {
  if (!root) return '/dev/full';
  const device = join(tempDir(), 'full');
  execFileSync('mknod', [device, 'c', '1', '7']);
  return device;
}

/** Runs a campaign command with the real harness, in process; `ran` tells whether a campaign started. */
async function run(argv: string[], cwd: string, afterRun: () => void = () => {}): Promise<{ code: number; stdout: string; stderr: string; ran: boolean }> {
  const stdout = new TextSink();
  const stderr = new TextSink();
  let ran = false;
  const harness: Harness = {
    ...realSeams.harness,
    async explore(engine, options) {
      ran = true;
      const result = await realSeams.harness.explore(engine, options);
      afterRun();
      return result;
    },
  };
  const engineModules = { ...realSeams.engineModules, reference: async () => ({ referenceEngine }), mutants: async () => ({ mutants }) };
  const code = await runCli(argv, { stdout, stderr, env: {}, cwd, seams: { harness, engineModules, now: () => 0, randomSeed: () => 'fresh' } });
  return { code, stdout: stdout.text, stderr: stderr.text, ran };
}

const GREEN = ['explore', '--runs', '2', '--seed', 's'];
/** Finds a violation at once, with a minimal failure to save. */
const RED = ['explore', '--engine', 'mutant:clear-before-durable', '--seed', '7'];

describe('report targets are checked before the campaign starts', () => {
  it.each(['json', 'junit'])('--%s in a directory that takes no new file: exit 2, nothing run', async (flag) => {
    const dir = unwritableDir();
    const r = await run([...GREEN, `--${flag}`, join(dir, 'report.out')], tempDir());
    expect(r.stderr).toContain(`prestore explore: --${flag} ${join(dir, 'report.out')}: cannot write in the directory ${dir}: `);
    expect(r.code).toBe(2);
    expect(r.ran).toBe(false);
  });

  it('--save-failures naming a directory that takes no new file: exit 2 before the run, not after a violation', async () => {
    const dir = unwritableDir();
    const r = await run([...RED, '--save-failures', dir], tempDir());
    expect(r.stderr).toContain(`prestore explore: --save-failures ${dir}: cannot write in ${dir}: `);
    expect(r.code).toBe(2);
    expect(r.ran).toBe(false);
  });

  it('--save-failures naming a directory to create where none can be: exit 2 before the run', async () => {
    const dir = unwritableDir();
    const r = await run([...RED, '--save-failures', join(dir, 'cx', 'more')], tempDir());
    expect(r.stderr).toContain(`prestore explore: --save-failures ${join(dir, 'cx', 'more')}: cannot create a directory in ${dir}: `);
    expect(r.code).toBe(2);
    expect(r.ran).toBe(false);
  });

  it('--save-failures below a file: exit 2 before the run', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'plain'), '');
    const r = await run([...RED, '--save-failures', 'plain/cx'], cwd);
    expect(r.stderr).toContain(`prestore explore: --save-failures plain/cx: ${join(cwd, 'plain')} is a file, not a directory`);
    expect(r.ran).toBe(false);
  });

  it('--json and --junit naming one file: exit 2', async () => {
    const r = await run([...GREEN, '--json', 'r.out', '--junit', './r.out'], tempDir());
    expect(r.stderr).toContain('--json and --junit name the same file');
    expect(r.ran).toBe(false);
  });

  it('a writable directory leaves no trace of the check', async () => {
    const cwd = tempDir();
    const r = await run([...GREEN, '--json', 'r.json', '--save-failures', 'cx'], cwd);
    expect(r.code).toBe(0);
    expect(readdirSync(cwd)).toEqual(['r.json']);
  });
});

describe('a report never replaces what is not a regular file', () => {
  it('a character device: exit 2 before the run, the device left as it is', async () => {
    const device = characterDevice();
    const r = await run([...GREEN, '--json', device], tempDir());
    expect(r.stderr).toContain(`prestore explore: --json ${device}: is a character device, not a regular file; reports replace only regular files (- writes to standard output)`);
    expect(r.code).toBe(2);
    expect(r.ran).toBe(false);
    expect(lstatSync(device).isCharacterDevice()).toBe(true);
  });

  it('a FIFO: exit 2 before the run, the FIFO left as it is', async () => {
    const cwd = tempDir();
    execFileSync('mkfifo', [join(cwd, 'pipe')]);
    const r = await run([...GREEN, '--junit', 'pipe'], cwd);
    expect(r.stderr).toContain('prestore explore: --junit pipe: is a FIFO (named pipe), not a regular file');
    expect(r.code).toBe(2);
    expect(lstatSync(join(cwd, 'pipe')).isFIFO()).toBe(true);
  });

  it('a symbolic link: exit 2 before the run, the link and the file it names left as they are', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'real.json'), 'precious');
    symlinkSync('real.json', join(cwd, 'link.json'));
    const r = await run([...GREEN, '--json', 'link.json'], cwd);
    expect(r.stderr).toContain('prestore explore: --json link.json: is a symbolic link, not a regular file');
    expect(r.code).toBe(2);
    expect(lstatSync(join(cwd, 'link.json')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(cwd, 'real.json'), 'utf8')).toBe('precious');
  });

  it('a target that became a FIFO during the run: left as it is; the summary printed, the failure named, the verdict kept', async () => {
    const cwd = tempDir();
    const r = await run([...RED, '--json', 'r.json'], cwd, () => execFileSync('mkfifo', [join(cwd, 'r.json')]));
    expect(r.ran).toBe(true);
    expect(lstatSync(join(cwd, 'r.json')).isFIFO()).toBe(true);
    expect(r.stdout).toContain('VIOLATION');
    expect(r.stderr).toBe('prestore explore: cannot write r.json: it is a FIFO (named pipe), not a regular file; reports replace only regular files (- writes to standard output)\n');
    expect(r.code).toBe(1);
  });

  it('the same on a green run: exit 2, for a run whose report is missing is no pass', async () => {
    const cwd = tempDir();
    const r = await run([...GREEN, '--junit', 'r.xml'], cwd, () => execFileSync('mkfifo', [join(cwd, 'r.xml')]));
    expect(r.stdout).toContain('every check held');
    expect(r.stderr).toContain('prestore explore: cannot write r.xml: it is a FIFO');
    expect(r.code).toBe(2);
  });
});
