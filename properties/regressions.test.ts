/**
 * Regression files: every counterexample dropped into scenarios/regressions/ (as
 * `prestore explore|exhaust --save-failures scenarios/regressions` writes them) is replayed on
 * every `npm test`. A file records a failure found against a buggy engine (a mutant, or a
 * vendor's engine named by a path relative to the package root), so each must still:
 *
 *   - validate against scenarios/counterexample.schema.json;
 *   - fail against the engine it names, with the rule it records: the harness still catches the
 *     bug (a change to the oracle or the fault model that lets it through fails here);
 *   - pass against the reference engine: the case is a fair one, which a correct engine survives.
 *
 * A file naming the reference engine itself records a bug the reference once had: it must pass.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveEngine } from '../src/cli/engine-arg.js';
import { engineFlagsOf } from '../src/cli/replay-file.js';
import { realSeams } from '../src/cli/seams.js';
import { referenceEngine } from '../src/engine/reference/index.js';
import { loadCounterexample, replayCounterexample } from '../src/harness/counterexample.js';
import { bundledScenariosDir, packageRoot } from '../src/harness/scenario-file.js';
import { mutants } from '../src/mutants/catalogue.js';

const dir = join(bundledScenariosDir(), 'regressions');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

const modules = { ...realSeams.engineModules, reference: async () => ({ referenceEngine }), mutants: async () => ({ mutants }) };

describe('regression files (scenarios/regressions/)', () => {
  it('there is at least one', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('%s: the recorded engine still fails with the recorded rule; the reference passes', { timeout: 60_000 }, async (name) => {
    const { file, case: c } = await loadCounterexample(join(dir, name), `scenarios/regressions/${name}`);
    const recorded = await resolveEngine(engineFlagsOf(file.engine.args, `${name}: engine.args`), modules, packageRoot());
    const reference = (await replayCounterexample(referenceEngine, c, { engineArgs: '--engine reference' })).violations;
    expect(reference.map((v) => `${v.rule}: ${v.message}`), 'the reference engine on this case').toEqual([]);
    if (recorded.factory === referenceEngine) return;
    const again = (await replayCounterexample(recorded.factory, c, { engineArgs: recorded.engineArgs })).violations;
    expect(again.map((v) => v.rule), `${recorded.label} on this case`).toEqual([file.rule]);
  });
});
