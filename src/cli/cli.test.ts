/**
 * The command line, run in-process through the registry with buffer streams and a fake harness:
 * help, exit codes, engine flags, reports, progress, replay.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineMisbehaviourError, EngineProtocolError, MetadataError } from '../errors.js';
import type { EngineFactory } from '../engine/contract.js';
import { type CampaignOptions, type CampaignResult, countByRule } from '../harness/campaign.js';
import { RULES, type Scenario, type Violation } from '../harness/case.js';
import { encodeCase } from '../harness/replay-line.js';
import type { CommandIo } from './command.js';
import { shellSplit } from './args.js';
import { loadCommands, runCli } from './dispatch.js';
import type { Harness, Seams } from './seams.js';

// --- fakes ---------------------------------------------------------------------------------------

class Buffer extends Writable {
  text = '';
  constructor(readonly isTTY = false) {
    super();
  }
  override _write(chunk: unknown, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.text += String(chunk);
    done();
  }
}

function fakeFactory(name: string): EngineFactory {
  return {
    name,
    metadataSize: () => 512,
    format: async () => {},
    open: async () => {
      throw new Error('the fake harness never opens an engine');
    },
  };
}

const COMMANDS = await loadCommands();
const reference = fakeFactory('fake-reference');
const cloneWrite = fakeFactory('fake-clone-write');

const engineModules: Seams['engineModules'] = {
  reference: async () => ({ referenceEngine: reference }),
  mutants: async () => ({ mutants: [{ name: 'clone-write', description: 'writes the clone during a restore', rule: 'clone-preserved', factory: cloneWrite }] }),
  stdio: async () => ({ stdioEngine: (command: string) => fakeFactory(`stdio ${command}`) }),
  file: (url) => import(url),
};

function violation(rule: Violation['rule'], message: string, engineArgs = '--engine reference'): Violation {
  return { rule, message, trace: ['#3 source write 0+512 abcd', '#4 meta write 0+512 fua 1234'], replay: `prestore replay ${engineArgs} c1.FAKE${rule.length}`, expected: 'clone#3', actual: 'source#3' };
}

interface Call {
  readonly kind: 'explore' | 'exhaust' | 'replay';
  readonly engine: EngineFactory;
  readonly options?: CampaignOptions;
  readonly scenario?: Scenario;
  readonly line?: string;
  readonly engineArgs?: string;
}

/** A harness that reports progress and returns what it is told to, recording every call. */
function fakeHarness(violations: { explore?: Violation[]; exhaust?: Record<string, Violation[]>; replay?: Violation[] } = {}) {
  const calls: Call[] = [];
  const result = (engine: EngineFactory, seed: string, found: Violation[], scenario?: string): CampaignResult => ({
    engine: engine.name,
    seed,
    cases: 10,
    crashStates: 40,
    // exhaust counts distinct crash states; explore, which does not dedupe, has none to count.
    ...(scenario === undefined ? {} : { distinctCrashStates: 30 }),
    violations: found,
    violationsByRule: countByRule(found),
    coverage: scenario === undefined ? [] : [{ scenario, mode: 'torn', ioPoints: 12, crashStates: 40, distinctCrashStates: 30, enumeratedPoints: 10, sampledPoints: 2, secondCrashStates: 0 }],
  });
  const harness: Harness = {
    async explore(engine, options) {
      calls.push({ kind: 'explore', engine, options });
      for (let i = 1; i <= 3; i++) options.onProgress?.({ done: i, total: 3, crashStates: i * 2, violations: 0 });
      return result(engine, options.seed, violations.explore ?? []);
    },
    async exhaust(engine, scenario, options) {
      calls.push({ kind: 'exhaust', engine, options, scenario });
      options.onProgress?.({ done: 1, total: 2, crashStates: 1, violations: 0 });
      options.onProgress?.({ done: 2, total: 2, crashStates: 2, violations: 0 });
      return result(engine, options.seed, violations.exhaust?.[scenario.name] ?? [], scenario.name);
    },
    async replay(engine, line, options) {
      calls.push({ kind: 'replay', engine, line, engineArgs: options?.engineArgs });
      const found = violations.replay ?? [];
      return { violations: found, transcript: ['open the engine', '  #0 meta read 0+512 0703c47a', found.length === 0 ? 'every check held' : `VIOLATION of rule ${found[0]!.rule}`] };
    },
  };
  return { harness, calls };
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'prestore-cli-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly calls: Call[];
}

async function run(argv: string[], options: { harness?: ReturnType<typeof fakeHarness>; tty?: boolean; env?: NodeJS.ProcessEnv; cwd?: string; seams?: Partial<Seams> } = {}): Promise<Run> {
  const stdout = new Buffer();
  const stderr = new Buffer(options.tty ?? false);
  const fake = options.harness ?? fakeHarness();
  let clock = 0;
  const io: CommandIo = {
    stdout,
    stderr,
    env: options.env ?? {},
    cwd: options.cwd ?? process.cwd(),
    seams: { harness: fake.harness, engineModules, now: () => (clock += 25), randomSeed: () => 'fresh-seed', ...options.seams },
  };
  const code = await runCli(argv, io);
  return { code, stdout: stdout.text, stderr: stderr.text, calls: fake.calls };
}

const hasPython = (() => {
  try {
    execFileSync('python3', ['-c', 'import xml.dom.minidom'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

// --- help and usage ------------------------------------------------------------------------------

describe('help', () => {
  it('prestore --help lists every command with its summary', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c.name} +${c.summary.replace(/[()]/g, '\\$&')}$`, 'm'));
    expect(r.stdout).toContain('Exit status: 0');
    expect(r.stdout).toContain('3 an internal error');
  });

  it('has the harness commands', () => {
    expect(COMMANDS.map((c) => c.name)).toEqual(expect.arrayContaining(['explore', 'exhaust', 'replay', 'start']));
  });

  for (const c of COMMANDS) {
    it(`prestore ${c.name} --help prints its usage, options and exit codes`, async () => {
      for (const flag of ['--help', '-h']) {
        const r = await run([c.name, flag]);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain(`Usage: prestore ${c.name}`);
        expect(r.stdout).toContain('--help');
        expect(r.stdout).toMatch(/Exit status: 0/);
        expect(r.calls).toEqual([]);
      }
      const viaHelp = await run(['help', c.name]);
      expect(viaHelp.stdout).toBe((await run([c.name, '--help'])).stdout);
    });
  }

  it('--help wins over other flags, even bad ones', async () => {
    const r = await run(['explore', '--bogus', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: prestore explore');
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { version: string };
    const r = await run(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`prestore ${version}\n`);
  });
});

describe('bad usage exits 2', () => {
  it('no command: the help on stderr', async () => {
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage: prestore <command>');
  });

  it('an unknown command names the commands', async () => {
    const r = await run(['explode']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "explode"');
    expect(r.stderr).toContain('see prestore --help');
    expect(r.stdout).toBe('');
  });

  it('an unknown flag, with a suggestion and the pointer to --help', async () => {
    const r = await run(['explore', '--rusn', '5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown option --rusn (did you mean --runs?)');
    expect(r.stderr).toContain('see prestore explore --help');
    expect(r.calls).toEqual([]);
  });

  it.each([
    [['explore', '--runs'], 'option --runs needs a value'],
    [['explore', '--runs', 'many'], '--runs "many": must be a positive whole number'],
    [['explore', '--runs', '0'], '--runs 0: must be from 1'],
    [['explore', '--seed', ''], '--seed must not be empty'],
    [['explore', '--stop-on-first=yes'], 'option --stop-on-first takes no value'],
    [['explore', 'stray'], 'unexpected argument "stray"'],
    [['exhaust'], 'exhaust needs a scenario file, directory or bundled scenario name, or --bundled'],
    [['exhaust', 'protected-restore', '--depth', '3'], '--depth "3": must be 1'],
    [['exhaust', 'protected-restore', '--modes', 'drop,shred'], 'unknown cache mode "shred"'],
    [['exhaust', 'protected-restore', '--modes', 'drop,drop'], 'drop is listed twice'],
    [['explore', '--engine', 'reference', '--engine-cmd', 'x'], 'give --engine or --engine-cmd, not both'],
    [['explore', '--json', '-', '--junit', '-'], 'cannot both go to standard output'],
    [['explore', '--json', '/no/such/dir/out.json'], 'the directory /no/such/dir does not exist'],
    [['replay'], 'replay needs the replay line'],
    [['replay', 'not-a-token'], '"not-a-token" is not a replay line: a replay line ends in its c1.… token'],
    [['replay', 'hello world'], '"hello world" is not a replay line: a replay line ends in its c1.… token (prestore replay [ENGINE] c1.…)'],
    [['replay', 'hello', 'world'], '"hello world" is not a replay line'],
    [['explore', '--runs', '-1'], '--runs "-1": must be a positive whole number from 1 to'],
    [['exhaust', 'protected-restore', '--workers', '-2'], '--workers "-2": must be a positive whole number from 1 to 64'],
    [['explore', '--engine-timeout', '500'], '--engine-timeout bounds the waits on an engine process: it goes with --engine-cmd'],
    [['explore', '--engine-cmd', 'x', '--engine-timeout', '-5'], '--engine-timeout "-5": must be a positive whole number from 1 to'],
    [['explore', '--engine-cmd', 'x', '--engine-timeout', '0'], '--engine-timeout 0: must be from 1 to'],
  ])('prestore %j', async (argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain(`see prestore ${argv[0]} --help`);
    expect(r.calls).toEqual([]);
  });
});

// --- engines -------------------------------------------------------------------------------------

describe('engine flags', () => {
  it('the reference engine by default, named so in replay lines', async () => {
    const r = await run(['explore', '--runs', '3', '--seed', 's']);
    expect(r.code).toBe(0);
    expect(r.calls[0]!.engine).toBe(reference);
    expect(r.calls[0]!.options!.engineArgs).toBe('--engine reference');
    expect(r.calls[0]!.options!).toMatchObject({ seed: 's', runs: 3, stopOnFirst: false });
  });

  it('--engine mutant:NAME takes the mutant from the catalogue', async () => {
    const r = await run(['explore', '--engine', 'mutant:clone-write', '--stop-on-first']);
    expect(r.calls[0]!.engine).toBe(cloneWrite);
    expect(r.calls[0]!.options!).toMatchObject({ engineArgs: '--engine mutant:clone-write', stopOnFirst: true });
  });

  it('an unknown mutant is bad input that lists the mutants', async () => {
    const r = await run(['explore', '--engine', 'mutant:nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no mutant named "nope"; the mutants are clone-write');
  });

  it('--engine-cmd runs a stdio engine, shell-quoted in the replay line', async () => {
    const r = await run(['explore', '--engine-cmd', "python3 my engine's.py"]);
    expect(r.calls[0]!.engine.name).toBe("stdio python3 my engine's.py");
    expect(r.calls[0]!.options!.engineArgs).toBe(`--engine-cmd 'python3 my engine'\\''s.py'`);
  });

  it('an unknown engine name is bad input', async () => {
    const r = await run(['explore', '--engine', 'fastest']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--engine fastest: unknown engine; use reference, mutant:NAME, or a module path');
  });

  it('--engine PATH imports a module relative to the working directory', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'vendor.mjs'), `export const engine = { name: 'vendor', metadataSize: () => 512, format: async () => {}, open: async () => ({}) };\n`);
    const r = await run(['explore', '--engine', './vendor.mjs'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.calls[0]!.engine.name).toBe('vendor');
    expect(r.calls[0]!.options!.engineArgs).toBe('--engine ./vendor.mjs');
  });
});

// --- reports -------------------------------------------------------------------------------------

describe('explore', () => {
  it('prints a summary: cases, crash states, violations per rule, time', async () => {
    const r = await run(['explore', '--runs', '3']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('prestore explore: engine reference, seed fresh-seed');
    expect(r.stdout).toMatch(/cases +10/);
    expect(r.stdout).toMatch(/crash states +40\n/);
    expect(r.stdout).not.toContain('distinct');
    for (const [n, rule] of Object.entries(RULES)) expect(r.stdout).toMatch(new RegExp(`${n} ${rule} +0`));
    expect(r.stdout).toMatch(/time +\d+ ms/);
    expect(r.stdout).toContain('every check held');
  });

  it('a violation exits 1 and prints rule, message and the replay line on its own line', async () => {
    const v = violation('clone-preserved', 'the clone was written during a protected restore at sector 3', '--engine mutant:clone-write');
    const r = await run(['explore', '--engine', 'mutant:clone-write'], { harness: fakeHarness({ explore: [v] }) });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('VIOLATION of rule 1 (clone-preserved): the clone was written during a protected restore at sector 3');
    expect(r.stdout.split('\n')).toContain(v.replay);
    expect(r.stdout).toMatch(/1 clone-preserved +1/);
    expect(r.stdout).toContain('1 violation found');
  });

  it('--json FILE carries the documented fields, written whole', async () => {
    const dir = tempDir();
    const v = violation('reads-right', 'a host read returned stale data');
    const r = await run(['explore', '--json', 'result.json', '--seed', '7'], { cwd: dir, harness: fakeHarness({ explore: [v] }) });
    expect(r.code).toBe(1);
    const json = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as Record<string, unknown>;
    expect(json).toMatchObject({ engine: 'reference', seed: '7', cases: 10, crashStates: 40, command: 'explore', engineArgs: '--engine reference', ok: false });
    expect(json).not.toHaveProperty('distinctCrashStates');
    expect(json.violations).toEqual([expect.objectContaining({ rule: 'reads-right', ruleNumber: 2, message: v.message, replay: v.replay, trace: v.trace, expected: 'clone#3', actual: 'source#3' })]);
    expect(typeof json.elapsedMs).toBe('number');
    expect(json.coverage).toEqual([]);
    expect(json.violationsByRule).toMatchObject({ 'reads-right': 1, 'clone-preserved': 0 });
    expect(readdirSync(dir)).toEqual(['result.json']);
  });

  it('--json - puts the JSON alone on stdout and the summary on stderr', async () => {
    const r = await run(['explore', '--json', '-']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(expect.arrayContaining(['engine', 'seed', 'cases', 'crashStates', 'violations', 'elapsedMs', 'coverage']));
    expect(r.stderr).toContain('every check held');
  });

  it('--junit FILE: one testcase per rule, failures with the replay line, well-formed XML', async () => {
    const dir = tempDir();
    const v = violation('progress', 'no progress after <10> steps & "more" \'here\' \u0001');
    const r = await run(['explore', '--junit', 'junit.xml'], { cwd: dir, harness: fakeHarness({ explore: [v] }) });
    expect(r.code).toBe(1);
    const xml = readFileSync(join(dir, 'junit.xml'), 'utf8');
    expect(wellFormed(xml)).toBe(true);
    expect(xml.match(/<testcase /g)).toHaveLength(7);
    expect(xml.match(/<failure /g)).toHaveLength(1);
    expect(xml).toContain('name="rule 6: progress"');
    expect(xml).toContain(`replay: ${v.replay}`);
    expect(xml).toContain('no progress after &lt;10&gt; steps &amp; &quot;more&quot; &apos;here&apos;');
    if (hasPython) execFileSync('python3', ['-c', 'import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])', join(dir, 'junit.xml')]);
  });
});

describe('exhaust', () => {
  it('a bad scenario file exits 2 naming the file and the field, before running anything', async () => {
    const dir = tempDir();
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ name: 'bad', description: 'x', geometry: { volumeSize: 8192, extentSectors: 2 }, initial: { differ: 'all' }, workload: [{ op: 'write', volume: 'source', offset: 700, length: 512, pattern: 1 }] }));
    const r = await run(['exhaust', 'bad.json'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('bad.json: workload[0].offset: 700 must be a multiple of 512');
    expect(r.stderr).not.toContain('see prestore');
    expect(r.calls).toEqual([]);
  });

  it('a missing scenario is bad input naming the bundled ones', async () => {
    const r = await run(['exhaust', 'no-such-scenario']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no-such-scenario: no such scenario file or directory (nor a bundled scenario; those are ');
    expect(r.stderr).toContain('protected-restore');
    expect(r.stderr).toContain('--bundled runs them all');
  });

  it('--bundled runs every bundled scenario from a directory that has none, each once', async () => {
    const dir = tempDir();
    const bundled = readdirSync(join(process.cwd(), 'scenarios')).filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json')).map((f) => f.replace(/\.json$/, ''));
    const r = await run(['exhaust', '--bundled', 'nearly-equal'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.calls.map((c) => c.scenario!.name).sort()).toEqual(bundled.sort());
    const none = await run(['exhaust', 'scenarios/'], { cwd: dir });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('scenarios/: no such scenario file or directory');
    const nothing = await run(['exhaust'], { cwd: dir });
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('or --bundled for every bundled scenario');
  });

  it('runs bundled scenarios by name, with --depth, --modes and --seed passed through', async () => {
    const r = await run(['exhaust', 'protected-restore', 'nearly-equal', '--depth', '2', '--modes', 'torn,drop', '--seed', 'x']);
    expect(r.code).toBe(0);
    expect(r.calls.map((c) => c.scenario!.name)).toEqual(['protected-restore', 'nearly-equal']);
    expect(r.calls[0]!.options!).toMatchObject({ depth: 2, modes: ['torn', 'drop'], seed: 'x', engineArgs: '--engine reference' });
    expect(r.stdout).toMatch(/protected-restore +torn +12 +40 +30 +10 +2 +0/);
    expect(r.stdout).toMatch(/crash states \(distinct\) +80 \(60\)/);
  });

  it('uses the seed "prestore" and the scenario depth by default', async () => {
    const r = await run(['exhaust', 'protected-restore']);
    expect(r.calls[0]!.options!.seed).toBe('prestore');
    expect(r.calls[0]!.options!.depth).toBeUndefined();
  });

  it('JSON and JUnit: a testcase per scenario, violations tagged with their scenario', async () => {
    const dir = tempDir();
    const v = violation('only-differing-copied', 'the copier wrote extent 2, which was equal');
    const harness = fakeHarness({ exhaust: { 'nearly-equal': [v, v] } });
    const r = await run(['exhaust', 'protected-restore', 'nearly-equal', '--json', 'r.json', '--junit', 'r.xml'], { cwd: dir, harness });
    expect(r.code).toBe(1);
    const json = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as { violations: { scenario: string }[]; coverage: unknown[]; parts: unknown[] };
    expect(json.violations.map((x) => x.scenario)).toEqual(['nearly-equal', 'nearly-equal']);
    expect(json.coverage).toHaveLength(2);
    expect(json.parts).toHaveLength(2);
    const xml = readFileSync(join(dir, 'r.xml'), 'utf8');
    expect(wellFormed(xml)).toBe(true);
    expect(xml).toContain('<testcase classname="prestore.exhaust" name="protected-restore"');
    expect(xml).toContain('name="nearly-equal"');
    expect(xml).toContain('(and 1 more)');
    expect(r.stdout).toContain('VIOLATION of rule 5 (only-differing-copied) in nearly-equal');
    if (hasPython) execFileSync('python3', ['-c', 'import xml.dom.minidom,sys; xml.dom.minidom.parse(sys.argv[1])', join(dir, 'r.xml')]);
  });

  it('prints each distinct failure once and counts the rest, the summary last', async () => {
    const many = Array.from({ length: 12 }, (_, i) => ({ ...violation('restore-ends-right', `sector ${i} is wrong`), replay: `prestore replay --engine reference c1.CASE${i}` }));
    const other = { ...violation('progress', 'no progress'), replay: 'prestore replay --engine reference c1.SHARED' };
    const harness = fakeHarness({ exhaust: { 'protected-restore': [...many, other], 'nearly-equal': [other] } });
    const r = await run(['exhaust', 'protected-restore', 'nearly-equal'], { harness });
    expect(r.code).toBe(1);
    expect(r.stdout.match(/^VIOLATION/gm)).toHaveLength(2);
    expect(r.stdout).toContain('VIOLATION of rule 3 (restore-ends-right) in protected-restore: sector 0 is wrong');
    expect(r.stdout).toContain('(11 more crash states in protected-restore break rule 3 too; --json FILE lists every one)');
    expect(r.stdout).toContain('VIOLATION of rule 6 (progress) in protected-restore, nearly-equal: no progress');
    expect(r.stdout.match(/^prestore replay /gm)).toHaveLength(2);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('14 violations found');
  });

  it('JUnit: each distinct failure once in its testcase, the rest counted', async () => {
    const dir = tempDir();
    const many = Array.from({ length: 12 }, (_, i) => ({ ...violation('restore-ends-right', `sector ${i} is wrong`), replay: `prestore replay --engine reference c1.CASE${i}` }));
    const r = await run(['exhaust', 'protected-restore', '--junit', 'r.xml'], { cwd: dir, harness: fakeHarness({ exhaust: { 'protected-restore': many } }) });
    expect(r.code).toBe(1);
    const xml = readFileSync(join(dir, 'r.xml'), 'utf8');
    expect(wellFormed(xml)).toBe(true);
    expect(xml.match(/replay: /g)).toHaveLength(1);
    expect(xml).toContain('(11 more crash states break rule 3 too; the --json result lists every one)');
    expect(xml).toContain('message="restore-ends-right: sector 0 is wrong (and 11 more)"');
  });
});

describe('start', () => {
  it('exhausts every bundled scenario at depth 1, then explores', async () => {
    const r = await run(['start']);
    expect(r.code).toBe(0);
    const bundled = readdirSync(join(process.cwd(), 'scenarios')).filter((f) => f.endsWith('.json') && !f.endsWith('.schema.json'));
    const exhausts = r.calls.filter((c) => c.kind === 'exhaust');
    expect(exhausts).toHaveLength(bundled.length);
    expect(exhausts.every((c) => c.options!.depth === 1 && c.options!.eio === true && c.options!.seed === 'prestore-start')).toBe(true);
    expect(r.calls.at(-1)!.kind).toBe('explore');
    expect(r.stdout).toContain('coverage (per scenario and cache mode)');
    // The explore part has no distinct count, so neither has the whole run.
    expect(r.stdout).toMatch(/explore \(40 runs\) +10 +40 +0 +\d+ ms/);
    expect(r.stdout).toMatch(/crash states +\d[\d,]*\n/);
  });
});

// --- progress ------------------------------------------------------------------------------------

describe('progress', () => {
  it('is not shown when stderr is not a terminal', async () => {
    const r = await run(['explore'], { tty: false });
    expect(r.stderr).toBe('');
  });

  it('is not shown in CI even on a terminal', async () => {
    const r = await run(['exhaust', 'protected-restore'], { tty: true, env: { CI: 'true' } });
    expect(r.stderr).toBe('');
  });

  it('is shown on a terminal, with rate and ETA', async () => {
    const r = await run(['exhaust', 'protected-restore'], { tty: true });
    expect(r.stderr).toContain('protected-restore');
    expect(r.stderr).toMatch(/2\/2 crash states/);
    expect(r.stderr).toMatch(/\/s \| ETA/);
    expect(r.stdout).toContain('every check held');
  });
});

// --- replay --------------------------------------------------------------------------------------

describe('replay', () => {
  const token = encodeCase({ geometry: { volumeSize: 4096, sectorSize: 512, extentSectors: 2 }, initial: { differ: 'all', delta: 'exact' }, workload: [{ op: 'startRestore', protect: true }], crashes: [], eio: [] }, 'seed-9');

  it('prints the transcript and exits 0 when every check holds', async () => {
    const r = await run(['replay', token]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('prestore replay: engine reference, seed seed-9');
    expect(r.stdout).toContain('  #0 meta read 0+512 0703c47a');
    expect(r.calls[0]).toMatchObject({ kind: 'replay', line: token, engineArgs: '--engine reference' });
  });

  it('takes the engine from a pasted line, and exits 1 with the violation', async () => {
    const v = violation('clone-preserved', 'clone written', '--engine mutant:clone-write');
    const r = await run(['replay', `prestore replay --engine mutant:clone-write ${token}`], { harness: fakeHarness({ replay: [v] }) });
    expect(r.code).toBe(1);
    expect(r.calls[0]!.engine).toBe(cloneWrite);
    expect(r.stdout).toContain('VIOLATION of rule 1 (clone-preserved): clone written');
    expect(r.stdout.split('\n')).toContain(v.replay);
  });

  it('never starts the engine command a pasted line names: exit 2, showing the command to type', async () => {
    const started: string[] = [];
    const stdio = async () => ({ stdioEngine: (command: string) => (started.push(command), fakeFactory(`stdio ${command}`)) });
    const r = await run(['replay', `prestore replay --engine-cmd 'python3 my engine.py' ${token}`], { seams: { engineModules: { ...engineModules, stdio } } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`prestore replay: the replay line names the engine --engine-cmd 'python3 my engine.py'; replay runs an engine module or command only when you type it yourself`);
    expect(r.stderr).toContain(`If you trust it, run:\n  prestore replay --engine-cmd 'python3 my engine.py' ${token}\n`);
    expect(started).toEqual([]);
    expect(r.calls).toEqual([]);
  });

  it('never loads the engine module a pasted line names', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'evil.mjs'), `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(join(dir, 'loaded'))}, '');\nexport default {};\n`);
    const r = await run(['replay', `prestore replay --engine ./evil.mjs ${token}`], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`If you trust it, run:\n  prestore replay --engine ./evil.mjs ${token}\n`);
    expect(readdirSync(dir)).toEqual(['evil.mjs']);
  });

  it('runs the engine command typed on its command line, the pasted line naming it too', async () => {
    const r = await run(['replay', '--engine-cmd', 'python3 my engine.py', `prestore replay --engine-cmd 'python3 my engine.py' ${token}`]);
    expect(r.code).toBe(0);
    expect(r.calls[0]!.engine.name).toBe('stdio python3 my engine.py');
    expect(r.calls[0]!.engineArgs).toBe(`--engine-cmd 'python3 my engine.py'`);
  });

  it('flags given to replay override the line', async () => {
    const r = await run(['replay', '--engine', 'reference', `prestore replay --engine mutant:clone-write ${token}`]);
    expect(r.calls[0]!.engine).toBe(reference);
  });

  it('a damaged token is bad input', async () => {
    const r = await run(['replay', `${token.slice(0, 20)}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('replay token is damaged');
  });
});

// --- failures ------------------------------------------------------------------------------------

describe('errors', () => {
  function throwing(error: Error): ReturnType<typeof fakeHarness> {
    const fake = fakeHarness();
    fake.harness.explore = async () => {
      throw error;
    };
    return fake;
  }

  it('an internal error exits 3 with the stack and a note that it is a bug', async () => {
    const r = await run(['explore'], { harness: throwing(new TypeError('undefined is not a function')) });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('prestore explore: internal error: undefined is not a function');
    expect(r.stderr).toContain('at ');
    expect(r.stderr).toContain('This is a bug in prestore');
  });

  it.each([EngineProtocolError, MetadataError, EngineMisbehaviourError])('a %o is bad input: exit 2, no stack', async (Type) => {
    const r = await run(['explore'], { harness: throwing(new Type('the engine process answered garbage')) });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('prestore explore: the engine process answered garbage\n');
  });

  it('an error that only calls itself MetadataError is not taken for bad input: exit 3', async () => {
    const impostor = new Error('not ours');
    impostor.name = 'MetadataError';
    const r = await run(['explore'], { harness: throwing(impostor) });
    expect(r.code).toBe(3);
  });
});

// --- a tiny XML well-formedness check ------------------------------------------------------------

/** Tags balance, attributes are quoted, and every `&` starts a known entity. */
function wellFormed(xml: string): boolean {
  const stack: string[] = [];
  let i = 0;
  const entity = (at: number) => /^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/.test(xml.slice(at, at + 10));
  while (i < xml.length) {
    const c = xml[i]!;
    if (c === '&') {
      if (!entity(i)) return false;
      i++;
      continue;
    }
    if (c === '>') return false;
    if (c !== '<') {
      i++;
      continue;
    }
    const end = xml.indexOf('>', i);
    if (end < 0) return false;
    const tag = xml.slice(i + 1, end);
    i = end + 1;
    if (tag.startsWith('?')) continue;
    if (tag.startsWith('/')) {
      if (stack.pop() !== tag.slice(1)) return false;
      continue;
    }
    const selfClosing = tag.endsWith('/');
    const [name, ...rest] = (selfClosing ? tag.slice(0, -1) : tag).split(/\s+(?=[\w:-]+=)/);
    if (!/^[A-Za-z_][\w.-]*$/.test(name!)) return false;
    for (const attr of rest) {
      const m = /^([\w:-]+)="([^"<]*)"\s*$/.exec(attr);
      if (m === null) return false;
      for (let k = m[2]!.indexOf('&'); k >= 0; k = m[2]!.indexOf('&', k + 1)) if (!/^&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/.test(m[2]!.slice(k))) return false;
    }
    if (!selfClosing) stack.push(name!);
  }
  return stack.length === 0;
}

// --- end to end, through the real harness --------------------------------------------------------

describe('with the real harness', () => {
  /** An engine that restores nothing: reads during a "restore" return the stale source. */
  const broken = `
class CloneBusyError extends Error { constructor() { super('clone busy'); this.name = 'CloneBusyError'; } }
export default {
  name: 'restores-nothing',
  metadataSize: (g) => g.sectorSize,
  async format() {},
  async open(d) {
    let restoring = false;
    const busy = () => { if (restoring) throw new CloneBusyError(); };
    return {
      readSource: (o, l) => d.source.read(o, l),
      writeSource: (o, data) => d.source.write(o, data),
      flushSource: () => d.source.flush(),
      readClone: async (o, l) => { busy(); return d.clone.read(o, l); },
      writeClone: async (o, data) => { busy(); return d.clone.write(o, data); },
      flushClone: async () => { busy(); return d.clone.flush(); },
      startRestore: async () => { restoring = true; },
      step: async () => { restoring = false; return { remaining: 0, done: true }; },
      status: async () => (restoring ? { state: 'restoring', protect: true, extentsRemaining: 0 } : { state: 'fractured' }),
    };
  },
};
`;

  it('finds the violation, prints a replay line naming the engine, and that line replays it', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'broken.mjs'), broken);
    const real = { harness: (await import('./seams.js')).realSeams.harness };
    const found = await run(['exhaust', 'protected-restore', '--engine', './broken.mjs', '--stop-on-first', '--json', 'r.json'], { cwd: dir, seams: real });
    expect(found.code).toBe(1);
    const json = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as { violations: { replay: string }[]; cases: number };
    expect(json.cases).toBeGreaterThan(0);
    const line = json.violations[0]!.replay;
    expect(line).toMatch(/^prestore replay --engine \.\/broken\.mjs c1\./);
    expect(found.stdout.split('\n')).toContain(line);

    // The line, run as the command it is: the engine on it is typed.
    const replayed = await run(shellSplit(line).slice(1), { cwd: dir, seams: real });
    expect(replayed.code).toBe(1);
    expect(replayed.stdout).toContain('prestore replay: engine ./broken.mjs, seed prestore');
    expect(replayed.stdout).toContain('host: startRestore');
    expect(replayed.stdout.split('\n')).toContain(line);

    // The same line handed to replay as one argument names a module replay will not load on its word.
    const quoted = await run(['replay', line], { cwd: dir, seams: real });
    expect(quoted.code).toBe(2);
    expect(quoted.stderr).toContain(`If you trust it, run:\n  ${line}\n`);
  });
});
