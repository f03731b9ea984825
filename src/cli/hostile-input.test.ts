/**
 * Hostile input files and lines, each once, through the command line in-process and the real
 * harness: every one is bad input (exit 2, a message naming the file and what is wrong), never an
 * internal error (exit 3, a stack trace), a hang, or a verdict about nonsense. Each row was an
 * exit 3, a hang or a wrong verdict before the input checks it exercises.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TextSink } from './text-sink.js';
import { decodeCase, encodeCase } from '../harness/replay-line.js';
import { bundledScenariosDir } from '../harness/scenario-file.js';
import type { CommandIo } from './command.js';
import { runCli } from './dispatch.js';


const dir = mkdtempSync(join(tmpdir(), 'prestore-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new TextSink();
  const stderr = new TextSink();
  const io: CommandIo = { stdout, stderr, env: {}, cwd: dir, seams: { now: () => 0, randomSeed: () => 'fresh' } };
  const code = await runCli(argv, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Exit 2 with `message` on standard error, and no sign of an internal error. */
async function refused(argv: string[], message: RegExp): Promise<void> {
  const r = await cli(...argv);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  expect(r.stderr).toMatch(message);
  expect(r.code).toBe(2);
}

function write(name: string, content: unknown): string {
  writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  return name;
}

function fifo(name: string): string {
  execFileSync('mkfifo', [join(dir, name)]);
  return name;
}

const scenario = (): Record<string, any> => JSON.parse(readFileSync(join(bundledScenariosDir(), 'nearly-equal.json'), 'utf8'));

describe('scenario files', () => {
  it.each([
    ['2^53', 2 ** 53],
    ['2^32 + 512', 2 ** 32 + 512],
    ['one sector past the maximum', 16 * 2 ** 20 + 512],
  ])('a volume of %s bytes: exit 2, the maximum named', async (_, volumeSize) => {
    const s = scenario();
    s.geometry.volumeSize = volumeSize;
    await refused(['exhaust', write('big.json', s)], new RegExp(`^prestore exhaust: big\\.json: geometry\\.volumeSize: ${volumeSize} must be <= 16777216\\n$`));
  });

  it('an extent larger than the largest volume: exit 2', async () => {
    const s = scenario();
    s.geometry.extentSectors = 2 ** 60;
    await refused(['exhaust', write('extent.json', s)], /extent\.json: geometry\.extentSectors: \d+ must be <= 32768/);
  });

  it('JSON nested 200,000 deep: exit 2, where named', async () => {
    await refused(['exhaust', write('deep.json', '['.repeat(200_000) + ']'.repeat(200_000))], /^prestore exhaust: deep\.json: nested more than 64 levels deep at line 1, column 65 \(position 64\)/);
    // Unbalanced, so JSON.parse fails and the syntax scanner (recursive) would look for why.
    await refused(['exhaust', write('deep-cut.json', '{"a":'.repeat(100_000))], /deep-cut\.json: nested more than 64 levels deep/);
  });

  it('a FIFO, as the argument or inside a scenario directory: exit 2, never a read that blocks', { timeout: 10_000 }, async () => {
    await refused(['exhaust', fifo('pipe.json')], /^prestore exhaust: pipe\.json: is a FIFO \(named pipe\): a scenario is a regular file, a directory of them, or the name of a bundled one\n$/);
    mkdirSync(join(dir, 'with-pipe'));
    write('with-pipe/a.json', scenario());
    fifo('with-pipe/b.json');
    await refused(['exhaust', 'with-pipe'], /^prestore exhaust: with-pipe\/b\.json: is a FIFO \(named pipe\), not a scenario file\n$/);
  });

  it('a character device: exit 2, never a read that does not end', { timeout: 10_000 }, async () => {
    await refused(['exhaust', '/dev/zero'], /^prestore exhaust: \/dev\/zero: is a character device/);
  });
});

// A real failure of a mutant, as its replay line: every edit below starts from it.
const regression = JSON.parse(readFileSync(join(bundledScenariosDir(), 'regressions', 'mutant-clear-before-durable-reads-right-7435f9d304.json'), 'utf8'));
const ENGINE = '--engine mutant:clear-before-durable';

function editedLine(edit: (c: Record<string, any>) => void): string {
  const { case: c, seed } = decodeCase(String(regression.foundBy.replay).split(' ').pop()!);
  const copy = structuredClone(c) as Record<string, any>;
  edit(copy);
  return `prestore replay ${ENGINE} ${encodeCase(copy as never, seed)}`;
}

describe('replay lines edited so that they decode but are invalid', () => {
  it('the line as found replays: exit 1, the recorded rule', async () => {
    const r = await cli('replay', editedLine(() => {}));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('VIOLATION of rule 2 (reads-right)');
  });

  it.each<[string, (c: Record<string, any>) => void, RegExp]>([
    ['geometry missing', (c) => delete c.geometry, /^prestore replay: replay line: geometry: missing \(required\)\n$/],
    ['volumeSize "x"', (c) => (c.geometry.volumeSize = 'x'), /replay line: geometry\.volumeSize: must be an integer, not a string \("x"\)/],
    ['volumeSize -512', (c) => (c.geometry.volumeSize = -512), /replay line: geometry\.volumeSize: -512 must be >= 1/],
    ['volumeSize 2^40', (c) => (c.geometry.volumeSize = 2 ** 40), /replay line: geometry\.volumeSize: 1099511627776 must be <= 16777216/],
    ['extentSectors 0', (c) => (c.geometry.extentSectors = 0), /replay line: geometry\.extentSectors: 0 must be >= 1/],
    ['a sector past the end', (c) => c.workload.push({ op: 'read', volume: 'source', sector: 100, sectors: 1 }), /replay line: workload\[1\]\.sector: sectors 100\.\.100 pass the end of the volume \(18 sectors\)/],
    ['a survivor issued after its crash', (c) => (c.crashes[0].choice.survivors[0].point = 9), /replay line: crashes\[0\]\.choice\.survivors\[0\]\.point: 9 comes after the crash at I\/O point 7/],
    ['survivors in a drop crash', (c) => (c.crashes[0] = { point: 7, mode: 'drop', choice: { mode: 'drop', survivors: [{ point: 7 }] } }), /replay line: crashes\[0\]\.choice\.survivors: a drop crash keeps no cached write, yet 1 is listed/],
    ['a crash point that never comes', (c) => (c.crashes[0].point = 7000), /the replay line: the crashes it lists do not fit the run of mutant:clear-before-durable.*\n {2}crashes\[0\]\.point: the crash at I\/O point 7000 never happened \(the run had I\/O points 0\.\.17\)/],
    ['a survivor sector past the end of its write', (c) => (c.crashes[0] = { point: 7, mode: 'torn', choice: { mode: 'torn', survivors: [{ point: 7, sectors: [99] }] } }), /\n {2}crashes\[0\]\.choice\.survivors\[0\]\.sectors\[0\]: 99 is past the end of the write at I\/O point 7 \(1 sector\)/],
    ['a survivor that is a read', (c) => (c.crashes[0].choice.survivors[0].point = 0), /\n {2}crashes\[0\]\.choice\.survivors\[0\]\.point: I\/O point 0 is a meta read, not a write/],
  ])('%s: exit 2, the field named', async (_, edit, message) => {
    await refused(['replay', editedLine(edit)], message);
  });

  it('geometry with sectorSize 0: exit 2 (it looped forever)', { timeout: 10_000 }, async () => {
    await refused(['replay', editedLine((c) => (c.geometry.sectorSize = 0))], /replay line: geometry\.sectorSize: 0 must be >= 512/);
  });

  it('against another engine, crashes that do not fit are a note, and the verdict stands', async () => {
    const r = await cli('replay', '--engine', 'reference', editedLine((c) => (c.crashes[0].point = 7000)));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\nnote: the crashes it lists do not fit the run of reference, whose I\/O differs from the recorded engine's:\n {2}crashes\[0\]\.point: the crash at I\/O point 7000 never happened/);
  });
});

describe('counterexample files', () => {
  const file = (edit: (f: Record<string, any>) => void): Record<string, any> => {
    const f = structuredClone(regression) as Record<string, any>;
    edit(f);
    return f;
  };

  it.each<[string, (f: Record<string, any>) => void, RegExp]>([
    ['volumeSize 2^40', (f) => (f.geometry.volumeSize = 2 ** 40), /^prestore replay: cx\.json: geometry\.volumeSize: 1099511627776 must be <= 16777216\n$/],
    ['a crash point that never comes', (f) => (f.crashes[0].point = 7000), /^prestore replay: cx\.json: the crashes it lists do not fit the run of mutant:clear-before-durable, the engine it names.*\n {2}crashes\[0\]\.point: the crash at I\/O point 7000 never happened/],
    ['a survivor sector past the end of its write', (f) => (f.crashes[0] = { point: 7, mode: 'torn', choice: { mode: 'torn', survivors: [{ point: 7, sectors: [1, 5] }] } }), /\n {2}crashes\[0\]\.choice\.survivors\[0\]\.sectors\[0\]: 1 is past the end of the write at I\/O point 7 \(1 sector\)\n {2}crashes\[0\]\.choice\.survivors\[0\]\.sectors\[1\]: 5 is past/],
    ['a survivor issued after its crash', (f) => (f.crashes[0].choice.survivors[0].point = 9), /cx\.json: crashes\[0\]\.choice\.survivors\[0\]\.point: 9 comes after the crash at I\/O point 7/],
    ['sectors in a subset crash', (f) => (f.crashes[0].choice.survivors[0].sectors = [0]), /cx\.json: crashes\[0\]\.choice\.survivors\[0\]\.sectors: a subset crash keeps whole writes/],
    ['a choice of another mode than its crash', (f) => (f.crashes[0].mode = 'keep'), /cx\.json: crashes\[0\]\.choice\.mode: "subset", but crashes\[0\]\.mode is "keep"/],
  ])('%s: exit 2, the field named', async (_, edit, message) => {
    await refused(['replay', write('cx.json', file(edit))], message);
  });

  it('a FIFO: exit 2, never a read that blocks', { timeout: 10_000 }, async () => {
    await refused(['replay', fifo('pipe-cx.json')], /^prestore replay: pipe-cx\.json: is a FIFO \(named pipe\), not a counterexample file\n$/);
  });
});

describe('prestore merge', () => {
  const json = (name: string): Record<string, any> => JSON.parse(readFileSync(join(dir, name), 'utf8'));

  beforeAll(async () => {
    for (const [runs, shard, out] of [
      ['4', '1/2', 'e1.json'],
      ['4', '2/2', 'e2.json'],
      ['8', '2/2', 'e2-runs8.json'],
    ]) {
      expect((await cli('explore', '--seed', 's', '--runs', runs!, '--shard', shard!, '--json', out!)).code).toBe(0);
    }
    write('tiny.json', { ...scenario(), name: 'tiny', crash: { modes: ['drop'] } });
    expect((await cli('exhaust', 'tiny.json', '--shard', '1/2', '--json', 'x1.json')).code).toBe(0);
    expect((await cli('exhaust', 'tiny.json', '--shard', '2/2', '--json', 'x2.json')).code).toBe(0);
    expect((await cli('exhaust', 'tiny.json', '--shard', '2/2', '--depth', '2', '--json', 'x2-depth2.json')).code).toBe(0);
    write('tiny.json', { ...scenario(), name: 'tiny', crash: { modes: ['keep'] } });
    expect((await cli('exhaust', 'tiny.json', '--shard', '2/2', '--json', 'x2-edited.json')).code).toBe(0);
  }, 60_000);

  it('shards of one run merge: exit 0', async () => {
    expect((await cli('merge', 'e1.json', 'e2.json')).code).toBe(0);
    expect((await cli('merge', 'x1.json', 'x2.json')).code).toBe(0);
  });

  it.each([
    ['e2-runs8.json', 'e1.json', /^prestore merge: e2-runs8\.json: run\.runs is 8, but e1\.json has 4: not shards of one run\n$/],
    ['x2-depth2.json', 'x1.json', /x2-depth2\.json: run\.depth is 2, but x1\.json has not given: not shards of one run/],
    ['x2-edited.json', 'x1.json', /x2-edited\.json: run\.scenarios is .*, but x1\.json has .*: not shards of one run/],
  ])('%s among shards of another run: exit 2, the field named', async (odd, first, message) => {
    await refused(['merge', first, odd], message);
  });

  it.each<[string, (r: Record<string, any>) => unknown, RegExp]>([
    ['null', () => null, /^prestore merge: bad\.json: not a prestore --json result \(it holds null, not an object\)\n$/],
    ['violations: "x"', (r) => ({ ...r, violations: 'x' }), /^prestore merge: bad\.json: violations: must be an array, not a string \("x"\)\n$/],
    ['coverage: 5', (r) => ({ ...r, coverage: 5 }), /^prestore merge: bad\.json: coverage: must be an array, not an integer \(5\)\n$/],
    ['shard: "a/3"', (r) => ({ ...r, shard: 'a/3' }), /^prestore merge: bad\.json: shard: "a\/3" is not i\/n/],
    ['cases: -5', (r) => ({ ...r, cases: -5 }), /bad\.json: cases: -5 must be >= 0/],
    ['cases that are not the sum of the parts', (r) => ({ ...r, cases: r.cases + 1 }), /bad\.json: cases: \d+, but its parts add up to \d+: the file was edited/],
    ['a violation of no known rule', (r) => ({ ...r, violations: [{ rule: 'be-nice', message: 'm', replay: 'r', trace: [] }] }), /bad\.json: violations\[0\]\.rule: "be-nice" must be one of/],
    ['no run identity (an older prestore)', (r) => ({ ...r, run: undefined }), /bad\.json: no "run": written by an older prestore/],
  ])('a shard with %s: exit 2, the field named', async (_, edit, message) => {
    await refused(['merge', write('bad.json', JSON.stringify(edit(json('e1.json')))), 'e2.json'], message);
  });

  it('a FIFO: exit 2, never a read that blocks', { timeout: 10_000 }, async () => {
    await refused(['merge', fifo('pipe-shard.json'), 'e2.json'], /^prestore merge: pipe-shard\.json: is a FIFO \(named pipe\), not a prestore --json result\n$/);
  });
});

describe('prestore report', () => {
  it('a FIFO: exit 2, never a read that blocks', { timeout: 10_000 }, async () => {
    await refused(['report', fifo('pipe-result.json'), '-o', 'out.html'], /^prestore report: pipe-result\.json: is a FIFO \(named pipe\), not a result file\n$/);
  });

  it('JSON nested 200,000 deep: exit 2', async () => {
    await refused(['report', write('deep-result.json', `{"engine":${'['.repeat(200_000)}${']'.repeat(200_000)}}`), '-o', 'out.html'], /deep-result\.json: nested more than 64 levels deep/);
  });
});
