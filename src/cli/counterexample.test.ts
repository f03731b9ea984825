/**
 * Counterexample files on the command line, through the real harness: `--save-failures DIR` on
 * explore and exhaust, `prestore replay FILE.json` (seed-free, exit 1 with the recorded rule),
 * bad files (exit 2, the field named), engines that do not repeat themselves (exit 2, the I/O
 * point where two runs part), and scenario directories that skip scenarios/regressions/.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TextSink } from './text-sink.js';
import type { EngineFactory } from '../engine/contract.js';
import { referenceEngine } from '../engine/reference/index.js';
import { parseCounterexample } from '../harness/counterexample.js';
import { encodeCase } from '../harness/replay-line.js';
import { bundledScenariosDir } from '../harness/scenario-file.js';
import { labelledSector } from '../harness/sector-data.js';
import { mutants } from '../mutants/catalogue.js';
import type { CommandIo } from './command.js';
import { runCli } from './dispatch.js';
import { scenarioArgs, scenarioFilesIn } from './scenario-args.js';


/** The reference engine, writing after its metadata how often it has been opened: it never repeats. */
function countingEngine(): EngineFactory {
  let opens = 0;
  return {
    name: 'counts-its-opens',
    metadataSize: (g) => referenceEngine.metadataSize(g) + g.sectorSize,
    format: (devices, g, delta) => referenceEngine.format(devices, g, delta),
    async open(devices, g) {
      const engine = await referenceEngine.open(devices, g);
      opens++;
      await devices.meta.write(referenceEngine.metadataSize(g), labelledSector(`opened ${opens} times`, g.sectorSize, 0), { fua: true });
      return engine;
    },
  };
}

const catalogue = [...mutants, { name: 'counts-its-opens', description: 'not deterministic', rule: 'reads-right', factory: countingEngine() }];

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'prestore-cx-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function run(argv: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new TextSink();
  const stderr = new TextSink();
  const io: CommandIo = {
    stdout,
    stderr,
    env: {},
    cwd,
    seams: {
      engineModules: { reference: async () => ({ referenceEngine }), mutants: async () => ({ mutants: catalogue }), stdio: async () => ({}), file: (url) => import(url) },
      now: () => 0,
      randomSeed: () => 'fresh',
    },
  };
  const code = await runCli(argv, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const CBD = ['--engine', 'mutant:clear-before-durable'];

describe('--save-failures DIR', () => {
  it('explore writes the minimal failure; replaying the file fails with the same rule, the reference passes it', async () => {
    const dir = tempDir();
    const found = await run(['explore', ...CBD, '--seed', '7', '--save-failures', 'cx', '--json', 'r.json'], dir);
    expect(found.code).toBe(1);
    const files = readdirSync(join(dir, 'cx'));
    expect(files).toHaveLength(1);
    const name = join('cx', files[0]!);
    expect(found.stdout).toContain(`counterexample saved: ${name} (prestore replay ${name})`);
    const crash = 'crash at I/O point 7: subset: write at meta@7 (in flight) survived, source@6 was lost';
    expect(found.stdout.split('\n')).toContain(`  ${crash}`);
    const { file } = parseCounterexample(readFileSync(join(dir, name), 'utf8'), name);
    expect(file).toMatchObject({ rule: 'reads-right', engine: { args: '--engine mutant:clear-before-durable', label: 'mutant:clear-before-durable' }, crash: [crash], foundBy: { command: 'explore', seed: '7' } });
    const json = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as { violations: { crash: string[]; replay: string }[] };
    expect(json.violations[0]!.crash).toEqual([crash]);
    expect(file.foundBy?.replay).toBe(json.violations[0]!.replay);

    const replayed = await run(['replay', name], dir);
    expect(replayed.code).toBe(1);
    expect(replayed.stdout).toContain(`prestore replay: engine mutant:clear-before-durable, counterexample ${name} (seed-free: every crash lists its survivors)`);
    expect(replayed.stdout).toContain('VIOLATION of rule 2 (reads-right): ');
    expect(replayed.stdout).toContain(`POWER LOSS at I/O point 7: subset: write at meta@7 (in flight) survived, source@6 was lost`);
    expect(replayed.stdout).not.toContain('note: the file records');

    const reference = await run(['replay', '--engine', 'reference', name], dir);
    expect(reference.code).toBe(0);
    expect(reference.stdout).toContain('the recorded violation of rule 2 (reads-right) did not happen against reference: every check held');
  });

  it('saving the same failure twice writes the same file', async () => {
    const dir = tempDir();
    await run(['explore', ...CBD, '--seed', '7', '--save-failures', 'cx'], dir);
    const first = readdirSync(join(dir, 'cx')).map((f) => readFileSync(join(dir, 'cx', f), 'utf8'));
    await run(['explore', ...CBD, '--seed', '7', '--save-failures', 'cx'], dir);
    expect(readdirSync(join(dir, 'cx')).map((f) => readFileSync(join(dir, 'cx', f), 'utf8'))).toEqual(first);
  });

  it('exhaust writes the first failure of each rule, each of which replays', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const found = await run(['exhaust', 'protected-restore', ...CBD, '--save-failures', 'cx', '--json', 'r.json'], dir);
    expect(found.code).toBe(1);
    const json = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as { violations: { rule: string; crash?: string[] }[] };
    const rules = new Set(json.violations.map((v) => v.rule));
    expect(json.violations.filter((v) => v.crash !== undefined)).toHaveLength(rules.size);
    const files = readdirSync(join(dir, 'cx'));
    expect(files).toHaveLength(rules.size);
    for (const f of files) {
      const { file } = parseCounterexample(readFileSync(join(dir, 'cx', f), 'utf8'), f);
      expect(file.foundBy).toMatchObject({ command: 'exhaust', scenario: 'protected-restore', seed: 'prestore' });
      const replayed = await run(['replay', join('cx', f)], dir);
      expect(replayed.code).toBe(1);
      expect(replayed.stdout).toContain(`(${file.rule}): `);
    }
  });

  it('exhaust FILE.json crashes a counterexample\'s workload at every I/O point: the buggy engine fails, the reference holds', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    await run(['explore', ...CBD, '--seed', '7', '--save-failures', 'cx'], dir);
    const [name] = readdirSync(join(dir, 'cx'));
    const { file } = parseCounterexample(readFileSync(join(dir, 'cx', name!), 'utf8'), name!);
    const buggy = await run(['exhaust', join('cx', name!), ...CBD, '--modes', 'drop,subset'], dir);
    expect(buggy.code).toBe(1);
    expect(buggy.stdout).toContain(`(${file.rule}) in ${name!.replace(/\.json$/, '')}: `);
    const fixed = await run(['exhaust', join('cx', name!), '--modes', 'drop,subset'], dir);
    expect(fixed.stdout).toContain('every check held');
    expect(fixed.code).toBe(0);
    expect(fixed.stdout).toMatch(new RegExp(`^  ${name!.replace(/\.json$/, '')} +drop +\\d+`, 'm'));
  });

  it('writes nothing, and creates no directory, when every check holds', async () => {
    const dir = tempDir();
    const r = await run(['explore', '--runs', '10', '--seed', 's', '--save-failures', 'cx'], dir);
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, 'cx'))).toBe(false);
  });

  it('a file where the directory should be is bad usage, before anything runs', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'cx'), '');
    const r = await run(['explore', ...CBD, '--save-failures', 'cx'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('prestore explore: --save-failures cx: is a file, not a directory');
    expect(r.stdout).toBe('');
  });

  it('is in the help of explore, exhaust and start; replay --help tells of FILE.json', async () => {
    for (const command of ['explore', 'exhaust', 'start']) expect((await run([command, '--help'], process.cwd())).stdout).toContain('--save-failures DIR');
    expect((await run(['replay', '--help'], process.cwd())).stdout).toContain('prestore replay [ENGINE] FILE.json');
  });
});

describe('prestore replay FILE.json, bad files', () => {
  const good = {
    format: 'prestore-counterexample',
    version: 1,
    engine: { args: '--engine mutant:clear-before-durable' },
    rule: 'reads-right',
    message: 'm',
    geometry: { volumeSize: 9216, sectorSize: 512, extentSectors: 3 },
    initial: { differ: [0], delta: 'exact' },
    workload: [{ op: 'startRestore', protect: false }],
    crashes: [{ point: 7, mode: 'subset', choice: { mode: 'subset', survivors: [{ point: 7 }] } }],
    eio: [],
  };

  async function replayOf(content: unknown, ...flags: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const dir = tempDir();
    writeFileSync(join(dir, 'f.json'), typeof content === 'string' ? content : JSON.stringify(content));
    return run(['replay', ...flags, 'f.json'], dir);
  }

  it('a good hand-written file replays: exit 1 with the recorded rule', async () => {
    const r = await replayOf(good);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('VIOLATION of rule 2 (reads-right)');
  });

  it.each<[string, unknown, string]>([
    ['a missing field', { ...good, rule: undefined }, 'prestore replay: f.json: rule: missing (required)'],
    ['a crash without survivors', { ...good, crashes: [{ point: 7, mode: 'torn' }] }, 'prestore replay: f.json: crashes[0].choice: missing (required)'],
    ['an unknown field', { ...good, seed: 'x' }, 'prestore replay: f.json: seed: unknown field'],
    ['broken JSON', '{"format": "prestore-counterexample",', 'prestore replay: f.json: invalid JSON at line 1'],
    ['engine args of an unknown flag', { ...good, engine: { args: '--engine reference --fast' } }, 'prestore replay: f.json: engine.args: unknown option --fast'],
    ['an unknown mutant', { ...good, engine: { args: '--engine mutant:nope' } }, 'prestore replay: --engine mutant:nope: no mutant named "nope"'],
  ])('%s: exit 2, the field named', async (_, content, message) => {
    const r = await replayOf(content);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it.each([
    ['an engine command', `--engine-cmd 'touch MARKER'`],
    ['an engine module', '--engine ./evil.mjs'],
  ])('a file naming %s: exit 2 with the command to type, and nothing of it runs', async (_, args) => {
    const dir = tempDir();
    writeFileSync(join(dir, 'evil.mjs'), `import { writeFileSync } from 'node:fs'; writeFileSync('MARKER', '');\nexport default {};\n`);
    const engine = args.replace('MARKER', join(dir, 'MARKER'));
    writeFileSync(join(dir, 'f.json'), JSON.stringify({ ...good, engine: { args: engine } }));
    const r = await run(['replay', 'f.json'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`prestore replay: f.json names the engine ${engine}; replay runs an engine module or command only when you type it yourself, never one read from a line or a file. If you trust it, run:\n  prestore replay ${engine} f.json\n`);
    expect(readdirSync(dir).sort()).toEqual(['evil.mjs', 'f.json']);
  });

  it('a file naming an engine module replays against it when the module is typed', async () => {
    const dir = tempDir();
    // No crash: the reference engine under another name runs the case as recorded, and passes it.
    writeFileSync(join(dir, 'f.json'), JSON.stringify({ ...good, engine: { args: '--engine ./mine.mjs' }, crashes: [] }));
    writeFileSync(join(dir, 'mine.mjs'), `export { referenceEngine as default } from ${JSON.stringify(new URL('../engine/reference/index.ts', import.meta.url).href)};\n`);
    const r = await run(['replay', '--engine', './mine.mjs', 'f.json'], dir);
    expect(r.stdout).toContain('prestore replay: engine ./mine.mjs, counterexample f.json');
    expect(r.code).toBe(0);
  });

  it('a file whose crashes do not fit the engine it names (fixed since): exit 2, no verdict, pointing at exhaust', async () => {
    const dir = tempDir();
    // The mutant's crash at I/O point 7 kept the metadata write in flight there; the reference
    // engine under the same name does other I/O at 7, so the crash the file records never happens.
    writeFileSync(join(dir, 'f.json'), JSON.stringify({ ...good, engine: { args: '--engine ./mine.mjs' } }));
    writeFileSync(join(dir, 'mine.mjs'), `export { referenceEngine as default } from ${JSON.stringify(new URL('../engine/reference/index.ts', import.meta.url).href)};\n`);
    const r = await run(['replay', '--engine', './mine.mjs', 'f.json'], dir);
    expect(r.stderr).toMatch(/^prestore replay: f\.json: the crashes it lists do not fit the run of \.\/mine\.mjs, the engine it names, so the case did not run as recorded and there is no verdict to give/);
    expect(r.stderr).toContain("\nafter a fix that changed the engine's I/O, prestore exhaust f.json crashes its workload at every I/O point of the engine as it is now\n");
    expect(r.code).toBe(2);
  });

  it('a missing file: exit 2', async () => {
    const r = await run(['replay', 'nowhere.json'], tempDir());
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('prestore replay: nowhere.json: no such file\n');
  });

  it('a scenario file: exit 2, pointing at exhaust', async () => {
    const r = await run(['replay', join(bundledScenariosDir(), 'protected-restore.json')], process.cwd());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('this is a scenario file, not a counterexample: run it with prestore exhaust');
  });
});

describe('an engine that does not repeat its I/O', () => {
  const parting = /^prestore (replay|exhaust): the engine is not deterministic: traces part at I\/O point (\d+): first run #\2 meta write \d+\+512 fua [0-9a-f]+, second run #\2 meta write \d+\+512 fua [0-9a-f]+\n$/;
  const NONDET = ['--engine', 'mutant:counts-its-opens'];
  const c = {
    geometry: { volumeSize: 8192, sectorSize: 512, extentSectors: 2 },
    initial: { differ: [1, 2], delta: 'exact' as const },
    workload: [{ op: 'startRestore' as const, protect: true }],
    crashes: [],
    eio: [],
  };

  it('replay of a line: exit 2 naming the point where the runs part, not a violation', async () => {
    const r = await run(['replay', ...NONDET, encodeCase(c, 'seed')], process.cwd());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(parting);
  });

  it('replay of a file: the same', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'f.json'), JSON.stringify({ format: 'prestore-counterexample', version: 1, engine: { args: NONDET.join(' ') }, rule: 'reads-right', message: 'm', ...c }));
    const r = await run(['replay', 'f.json'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(parting);
  });

  it('exhaust: the same, before any crash state is derived from its record', async () => {
    const r = await run(['exhaust', 'protected-restore', ...NONDET], tempDir());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(parting);
  });
});

describe('scenario directories', () => {
  const root = join(bundledScenariosDir(), '..');

  it('scenarios/regressions/ holds counterexamples, and scenario lists skip it', async () => {
    const regressions = readdirSync(join(bundledScenariosDir(), 'regressions')).filter((f) => f.endsWith('.json'));
    expect(regressions.length).toBeGreaterThan(0);
    const listed = await scenarioFilesIn(bundledScenariosDir());
    expect(listed.length).toBeGreaterThan(0);
    for (const f of listed) expect(f).not.toMatch(/regressions|schema/);
    const args = await scenarioArgs(['scenarios'], root, bundledScenariosDir());
    expect(args.map((a) => a.file)).toEqual(listed.map((f) => join('scenarios', f)));
  });
});
