/** `prestore exhaust`: crash scenarios at every I/O point, in each cache mode. */
import { readdirSync } from 'node:fs';
import { bundledScenariosDir } from '../../harness/package-root.js';
import { depthFlag, modesFlag, parse } from '../args.js';
import { CAMPAIGN_OPTIONS, DEVICE_PROFILE_HELP, EXIT_HELP, exhaustPart, finish, prepare, REPORT_HELP } from '../campaign-run.js';
import { type Command, UsageError } from '../command.js';
import { ENGINE_HELP } from '../engine-arg.js';
import { exhaustInWorkers, workersFlag, workersHelp } from '../campaign-workers.js';
import { type Part, scenarioIdentity } from '../report.js';
import { loadScenarios, scenarioArgs } from '../scenario-args.js';
import { seamsOf } from '../seams.js';
import { threadGuard } from '../watchdog.js';

export const DEFAULT_EXHAUST_SEED = 'prestore';

/** Names as indented lines of at most 96 characters. */
function wrapped(names: readonly string[]): string {
  const lines = [''];
  for (const name of names) {
    const line = lines[lines.length - 1]!;
    if (line !== '' && line.length + name.length + 4 > 96) lines.push(name);
    else lines[lines.length - 1] = line === '' ? name : `${line}, ${name}`;
  }
  return lines.map((l) => `  ${l}`).join(',\n');
}

/** The bundled scenarios' names, for the help: the files of the package's scenarios/ folder. */
function bundledNames(): string[] {
  try {
    return readdirSync(bundledScenariosDir()).filter((n) => n.endsWith('.json') && !n.endsWith('.schema.json')).map((n) => n.replace(/\.json$/, '')).sort();
  } catch {
    return ['(none found: the package\'s scenarios/ folder is missing)'];
  }
}

const exhaust: Command = {
  name: 'exhaust',
  summary: 'crash scenario workloads at every I/O point, in every cache mode (systematic)',
  help: `Usage: prestore exhaust (SCENARIO... | --bundled) [--depth 1|2] [--modes drop,keep,subset,torn]
                        [--eio] [--seed S] [ENGINE] [--json FILE] [--junit FILE] [--stop-on-first] [--workers N]

Runs each scenario's workload once, then crashes it at every I/O point (of the workload and of
the restore's run to completion) in each cache mode: where a crash leaves few cached writes,
every subset of them survives in turn; where it leaves many, a seeded sample. Depth 2 also
crashes every recovery at each of its I/O points. Crash states that leave byte-identical images
at the same point of the workload are checked once (the "distinct" count).
With --eio, each scenario also gets an I/O error (EIO) at every I/O point, once transient and
once sticky (the sectors keep failing reads until rewritten), the rest of the workload run on and
the end rules checked; at depth 2 each such run is then crashed at every later I/O point.

SCENARIO is a scenario file (JSON, see scenarios/scenario.schema.json in the package), a
directory of them, or the name of a scenario bundled with prestore (e.g. protected-restore). A
counterexample file (from --save-failures) is exhausted as the scenario of its workload: its
recorded crashes name I/O points of the engine that failed, so after a fix this is how it keeps
testing the crash it was saved for (see docs/oracle.md).
--bundled runs every bundled scenario from any directory (they are the scenarios/ folder of
the installed package; prestore exhaust scenarios/ runs them only from a checkout of prestore).
The bundled scenarios:
${wrapped(bundledNames())}

Options:
  --bundled                 every scenario bundled with prestore (as well as any SCENARIO given)
  --depth 1|2               override the scenarios' depth (1: one crash per I/O point;
                            2: also a second crash at every I/O point of each recovery)
  --modes LIST              override the scenarios' cache modes: a comma-separated list of
                            drop, keep, subset, torn
  --eio                     also an I/O error at every I/O point, transient and sticky, then
                            the rest of the workload and the end rules (depth 2: and a crash
                            at every later I/O point); counted in the coverage table's
                            "I/O errors" column
  --seed S                  the seed for sampled crash states (default ${DEFAULT_EXHAUST_SEED})
  --stop-on-first           stop at the first violation
${workersHelp('crash states')}
${DEVICE_PROFILE_HELP}
  -h, --help                this help

${ENGINE_HELP}

${REPORT_HELP}

${EXIT_HELP}

Examples:
  prestore exhaust --bundled --engine ./my-engine.mjs
  prestore exhaust protected-restore --engine-cmd "python3 my_engine.py"
  prestore exhaust scenarios/protected-restore.json
  prestore exhaust scenarios/ --depth 2 --modes torn --junit exhaust.xml
  prestore exhaust scenarios/ --eio
  prestore exhaust my-scenario.json --engine ./dist/my-engine.js`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { ...CAMPAIGN_OPTIONS, bundled: { type: 'boolean' }, depth: { type: 'string' }, eio: { type: 'boolean' }, modes: { type: 'string' }, 'stop-on-first': { type: 'boolean' }, workers: { type: 'string' } }, { positionals: true });
    const workers = workersFlag(values);
    if (workers > 1 && values['stop-on-first'] === true) throw new UsageError('--workers and --stop-on-first do not go together: each worker would stop at its own first violation');
    if (positionals.length === 0 && values.bundled !== true) throw new UsageError('exhaust needs a scenario file, directory or bundled scenario name, or --bundled for every bundled scenario');
    const depth = depthFlag(values.depth);
    const modes = modesFlag(values.modes);
    // Scenario files first: their errors do not depend on the engine.
    const seams = seamsOf(io);
    const bundledDir = seams.bundledScenarios();
    const scenarios = await loadScenarios(await scenarioArgs(values.bundled === true ? [...positionals, bundledDir] : positionals, io.cwd ?? process.cwd(), bundledDir), seams);
    const ctx = await prepare(io, values, () => DEFAULT_EXHAUST_SEED);
    const stopOnFirst = values['stop-on-first'] === true;
    const parts: Part[] = [];
    const overrides = { ...(depth === undefined ? {} : { depth }), ...(modes === undefined ? {} : { modes }), ...(values.eio === true ? { eio: true } : {}) };
    const run = { scenarios: scenarioIdentity(scenarios), ...overrides, stopOnFirst };
    if (workers > 1) {
      const job = { engineFlags: values, cwd: ctx.cwd, scenarios: scenarios.map((s) => s.scenario), options: { seed: ctx.seed, engineArgs: ctx.engine.engineArgs, ...overrides, ...(ctx.profile === undefined ? {} : { profile: ctx.profile }) } };
      const results = await exhaustInWorkers(ctx.engine.factory, job, workers, threadGuard(ctx.engine.callTimeoutMs));
      return finish(ctx, 'exhaust', run, results.map(({ result, elapsedMs }, i) => ({ kind: 'exhaust', name: scenarios[i]!.scenario.name, file: scenarios[i]!.file, result, elapsedMs })));
    }
    for (const { scenario, file } of scenarios) {
      const part = await exhaustPart(ctx, scenario, file, { ...overrides, stopOnFirst });
      parts.push(part);
      if (stopOnFirst && part.result.violations.length > 0) break;
    }
    return finish(ctx, 'exhaust', run, parts);
  },
};

export default exhaust;
