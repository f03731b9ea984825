/**
 * The package as a vendor gets it: `npm pack`, installed into an empty project, and the README's
 * vendor commands run there, in order (the in-process engine module, `--engine-cmd`, and the
 * vitest example calling the library API), plus a failure found and replayed from its line.
 *
 * Offline: the dependencies come from npm's cache (`npm ci` filled it), pinned by a lockfile made
 * from this repository's own, so no registry is asked. It packs the dist/ that `npm test` has just
 * built (`--ignore-scripts`: running prepack's build here would rewrite dist/ under the other test
 * files); prepack's build is what `npm pack` runs for a release.
 *
 * The install and the vendor commands take about half a minute of two cores, several on a busy
 * machine, so they run when PRESTORE_PACKAGE_TEST=1 (.ci/run sets it) and are skipped, visibly,
 * otherwise. What the package ships, and the docs' examples, are checked on every run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The shell lines of the README's vendor block, in order. */
function vendorCommands(): string[] {
  const marker = README.indexOf('<!-- vendor-commands:');
  const block = /```sh\n([\s\S]*?)```/.exec(README.slice(marker));
  if (marker < 0 || block === null) throw new Error('README.md has no vendor-commands block');
  return block[1]!.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
}

interface LockEntry {
  readonly version: string;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly optional?: boolean;
  readonly [field: string]: unknown;
}

/**
 * A lockfile for a project depending on the packed tarball and on vitest, pinned to the versions
 * this repository locks: npm then installs from its cache without asking the registry anything.
 */
function vendorLock(tarball: string): { manifest: object; lock: object } {
  const repo = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const packages = repo.packages;
  const self = packages['']! as LockEntry & { devDependencies: Record<string, string>; bin: unknown; engines: unknown };
  // Node's resolution: a dependency of `from` is in the nearest node_modules above it that has it.
  const resolve = (from: string, name: string): string | undefined => {
    for (let base = from; ; ) {
      const at = `${base === '' ? '' : `${base}/`}node_modules/${name}`;
      if (packages[at] !== undefined) return at;
      if (base === '') return undefined;
      const up = base.lastIndexOf('/node_modules/');
      base = up < 0 ? '' : base.slice(0, up);
    }
  };
  const keep = new Set<string>();
  const todo = [...Object.keys(self.dependencies ?? {}), 'vitest'].map((n) => resolve('', n));
  while (todo.length > 0) {
    const at = todo.pop();
    if (at === undefined || keep.has(at)) continue;
    keep.add(at);
    const e = packages[at]!;
    for (const name of Object.keys({ ...e.dependencies, ...e.optionalDependencies, ...e.peerDependencies })) todo.push(resolve(at, name));
  }
  const devDependencies = { 'protected-restore': `file:${tarball}`, vitest: self.devDependencies.vitest! };
  const locked: Record<string, unknown> = {
    '': { name: 'vendor-engine', version: '1.0.0', devDependencies },
    'node_modules/protected-restore': { version: self.version, resolved: `file:${tarball}`, dev: true, dependencies: self.dependencies, bin: self.bin, engines: self.engines },
  };
  for (const at of [...keep].sort()) {
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = packages[at]!;
    locked[at] = { ...entry, dev: true };
  }
  return {
    manifest: { name: 'vendor-engine', version: '1.0.0', private: true, type: 'module', devDependencies },
    lock: { name: 'vendor-engine', version: '1.0.0', lockfileVersion: 3, requires: true, packages: locked },
  };
}

/** The environment of a vendor's shell: no npm_* variables of the `npm test` running this. */
function vendorEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { CI: '1' };
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'CI' && !k.startsWith('VITEST')) env[k] = v;
  return env;
}

function sh(line: string, cwd: string): { status: number | null; out: string } {
  const r = spawnSync('/bin/sh', ['-c', line], { cwd, env: vendorEnv(), encoding: 'utf8', timeout: 240_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const RUN = process.env['PRESTORE_PACKAGE_TEST'] === '1';
if (!RUN) console.warn('src/installed-package.test.ts: the install into an empty project is skipped; PRESTORE_PACKAGE_TEST=1 runs it (.ci/run sets it)');

const work = mkdtempSync(join(tmpdir(), 'prestore-installed-'));
const project = join(work, 'vendor-engine');

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** `npm pack` of the built package: the tarball's name and its files (only listed, with `dryRun`). */
function pack(dryRun: boolean): { filename: string; files: string[] } {
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))) throw new Error('dist/ is not built: run npm run build (npm test does) first');
  const args = ['pack', '--ignore-scripts', '--json', '--pack-destination', work, ...(dryRun ? ['--dry-run'] : [])];
  const [packed] = JSON.parse(execFileSync('npm', args, { cwd: ROOT, env: vendorEnv(), encoding: 'utf8' })) as { filename: string; files: { path: string }[] }[];
  return { filename: packed!.filename, files: packed!.files.map((f) => f.path) };
}

describe('the package', () => {
  it('ships the built code, its types, the scenarios, the docs and the examples, and nothing else', { timeout: 60_000 }, () => {
    const { files } = pack(true);
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'scenarios/protected-restore.json', 'scenarios/scenario.schema.json', 'scenarios/counterexample.schema.json', 'docs/contract.md', 'docs/fault-model.md', 'docs/oracle.md', 'docs/protocol.md', 'examples/minimal-engine.mjs', 'examples/engine.test.mjs', 'examples/github-actions.yml']));
    const stray = files.filter((f) => /^(?!examples\/).*\.test\.|\.map$|^src\/|^\.ci\/|^properties\/|^model\/|tsconfig|vitest\.config|^scenarios\/regressions\//.test(f));
    expect(stray).toEqual([]);
  });
});

describe.skipIf(!RUN)('the installed package (PRESTORE_PACKAGE_TEST=1)', () => {
  beforeAll(() => {
    const { filename } = pack(false);
    mkdirSync(project);
    const { manifest, lock } = vendorLock(`../${filename}`);
    writeFileSync(join(project, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    writeFileSync(join(project, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
  }, 120_000);

  it('runs the README\'s vendor commands in an empty project, offline, and every one succeeds', { timeout: 600_000 }, () => {
    const [install, ...rest] = vendorCommands();
    expect(install).toBe('npm install --save-dev protected-restore vitest');
    // The registry is not reachable from here: the same install, from the tarball and npm's cache.
    const installed = sh('npm install --offline --no-audit --no-fund', project);
    expect(installed.out, 'npm install').not.toMatch(/npm (ERR!|error)/);
    expect(installed.status, installed.out).toBe(0);
    // No install script runs in a vendor's project (the build is prepack's, before publishing).
    expect(installed.out).not.toMatch(/install-scripts|prepare/);
    expect(rest.length).toBeGreaterThanOrEqual(4);
    for (const line of rest) {
      const r = sh(line, project);
      expect(r.status, `${line}\n${r.out}`).toBe(0);
      if (line.startsWith('npx prestore')) expect(r.out, line).toContain('every check held');
      if (line.startsWith('npx vitest')) expect(r.out, line).toMatch(/1 passed/);
    }
  });

  it('finds a bug from there, and its replay line replays it', { timeout: 300_000 }, () => {
    const found = sh('npx prestore exhaust protected-restore --modes drop --engine mutant:clear-before-durable', project);
    expect(found.status, found.out).toBe(1);
    const line = found.out.split('\n').find((l) => l.startsWith('prestore replay '));
    expect(line, found.out).toMatch(/^prestore replay --engine mutant:clear-before-durable c1\./);
    const replayed = sh(`npx ${line!}`, project);
    expect(replayed.status, replayed.out).toBe(1);
    expect(replayed.out).toContain('VIOLATION of rule 2 (reads-right)');
  });

  it('exports what a test suite needs, by the package\'s name', () => {
    const script = join(project, 'exports.mjs');
    writeFileSync(
      script,
      `import * as p from 'protected-restore';
import { serveEngine } from 'protected-restore/serve';
import { CloneBusyError } from 'protected-restore/contract';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
const names = ['checkEngine', 'bundledScenariosDir', 'loadScenario', 'parseScenario', 'loadCounterexample', 'parseCounterexample', 'replayCounterexample', 'saveFailures', 'formatViolation', 'junitReport', 'jsonReport', 'explore', 'exhaust', 'replay', 'runCase', 'serveEngine', 'CloneBusyError', 'MetadataError'];
const missing = names.filter((n) => p[n] === undefined);
const scenario = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('protected-restore/scenarios/protected-restore.json'), 'utf8'));
const parsed = p.parseScenario(JSON.stringify(scenario), 'protected-restore.json');
console.log(JSON.stringify({ missing, serve: typeof serveEngine, busy: CloneBusyError === p.CloneBusyError, parsed: parsed.name, dir: p.bundledScenariosDir().endsWith('scenarios') }));
`,
    );
    const r = sh('node exports.mjs', project);
    expect(r.status, r.out).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ missing: [], serve: 'function', busy: true, parsed: 'protected-restore', dir: true });
  });
});

describe('the vendor docs', () => {
  it('the README shows examples/engine.test.mjs as it is', () => {
    const example = readFileSync(join(ROOT, 'examples', 'engine.test.mjs'), 'utf8');
    expect(README).toContain(`\`\`\`js\n${example}\`\`\``);
  });

  it('the CI recipe uses only flags its commands take', async () => {
    const { runCli } = await import('./cli/dispatch.js');
    // A folded command goes on over lines that begin with a flag.
    const yml = readFileSync(join(ROOT, 'examples', 'github-actions.yml'), 'utf8').replace(/\n\s+(?=--)/g, ' ');
    const commands = [...yml.matchAll(/npx prestore (\w+)([^\n]*)/g)].map((m) => ({ name: m[1]!, flags: [...m[2]!.matchAll(/(--[\w-]+)/g)].map((f) => f[1]!) }));
    expect(commands.map((c) => c.name)).toEqual(['exhaust', 'explore', 'merge']);
    for (const c of commands) {
      let help = '';
      const sink = { write: (s: string) => ((help += s), true) } as unknown as NodeJS.WritableStream;
      expect(await runCli([c.name, '--help'], { stdout: sink, stderr: sink, env: {} })).toBe(0);
      for (const flag of c.flags) expect(help, `prestore ${c.name} ${flag}`).toContain(flag);
    }
  });
});
