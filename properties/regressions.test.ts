/**
 * Regression files: every counterexample dropped into scenarios/regressions/ (as
 * `prestore explore|exhaust --save-failures scenarios/regressions` writes them) is replayed on
 * every `npm test`. A file records a failure found against a buggy engine, so each must still:
 *
 *   - validate against scenarios/counterexample.schema.json;
 *   - pass against the reference engine: the case is a fair one, which a correct engine survives;
 *   - fail against the engine it names, with the rule it records, when that engine is a mutant:
 *     the harness still catches the bug (a change to the oracle or the fault model that lets it
 *     through fails here).
 *
 * A file naming the reference engine itself records a bug the reference once had: it must pass.
 * A file naming an engine module or command is replayed against the reference only: a file never
 * makes `npm test` run code it names (a contributed file could run anything in CI).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { namesBundledEngine, resolveEngine } from '../src/cli/engine-arg.js';
import { engineFlagsOf } from '../src/cli/replay-file.js';
import { realSeams } from '../src/cli/seams.js';
import { referenceEngine } from '../src/engine/reference/index.js';
import { loadCounterexample, replayCounterexample } from '../src/harness/counterexample.js';
import { bundledScenariosDir, packageRoot } from '../src/harness/scenario-file.js';
import { mutants } from '../src/mutants/catalogue.js';

const dir = join(bundledScenariosDir(), 'regressions');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

const modules = { ...realSeams.engineModules, reference: async () => ({ referenceEngine }), mutants: async () => ({ mutants }) };

/**
 * One file's checks. Returns the engine it names when that engine was not replayed: a module or a
 * command, which a file never makes the test load or start.
 */
async function checkFile(path: string, name: string): Promise<string | undefined> {
  const { file, case: c } = await loadCounterexample(path, name);
  const flags = engineFlagsOf(file.engine.args, `${name}: engine.args`);
  const reference = (await replayCounterexample(referenceEngine, c, { engineArgs: '--engine reference' })).violations;
  expect(reference.map((v) => `${v.rule}: ${v.message}`), 'the reference engine on this case').toEqual([]);
  if (!namesBundledEngine(flags)) return file.engine.args;
  const recorded = await resolveEngine(flags, modules, packageRoot());
  if (recorded.factory === referenceEngine) return undefined;
  const again = (await replayCounterexample(recorded.factory, c, { engineArgs: recorded.engineArgs })).violations;
  expect(again.map((v) => v.rule), `${recorded.label} on this case`).toEqual([file.rule]);
  return undefined;
}

describe('regression files (scenarios/regressions/)', () => {
  it('there is at least one', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('%s: the reference engine passes it; a mutant it names still fails with the recorded rule', { timeout: 60_000 }, async (name) => {
    const skipped = await checkFile(join(dir, name), `scenarios/regressions/${name}`);
    if (skipped !== undefined) console.warn(`scenarios/regressions/${name} names ${skipped}: replayed against the reference engine only (a file never runs an engine module or command)`);
  });
});

describe('a regression file naming an engine command', () => {
  const temp = mkdtempSync(join(tmpdir(), 'prestore-regressions-'));
  afterAll(() => rmSync(temp, { recursive: true, force: true }));

  it('is replayed against the reference engine only: the command it names never runs', { timeout: 60_000 }, async () => {
    const marker = join(temp, 'the-command-ran');
    const file = JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as { engine: { args: string; label?: string } };
    file.engine = { args: `--engine-cmd 'touch ${marker}'` };
    writeFileSync(join(temp, 'contributed.json'), JSON.stringify(file));
    expect(await checkFile(join(temp, 'contributed.json'), 'contributed.json')).toBe(`--engine-cmd 'touch ${marker}'`);
    expect(existsSync(marker)).toBe(false);
  });
});
