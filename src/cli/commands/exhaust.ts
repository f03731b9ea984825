/** `prestore exhaust`: crash scenarios at every I/O point, in each cache mode. */
import { depthFlag, modesFlag, parse } from '../args.js';
import { CAMPAIGN_OPTIONS, EXIT_HELP, exhaustPart, finish, prepare, REPORT_HELP } from '../campaign-run.js';
import { type Command, UsageError } from '../command.js';
import { ENGINE_HELP } from '../engine-arg.js';
import { exhaustInWorkers, workersFlag, workersHelp } from '../campaign-workers.js';
import type { Part } from '../report.js';
import { loadScenarios, scenarioArgs } from '../scenario-args.js';
import { seamsOf } from '../seams.js';
import { threadGuard } from '../watchdog.js';

export const DEFAULT_EXHAUST_SEED = 'prestore';

const exhaust: Command = {
  name: 'exhaust',
  summary: 'crash scenario workloads at every I/O point, in every cache mode (systematic)',
  help: `Usage: prestore exhaust SCENARIO... [--depth 1|2] [--modes drop,keep,subset,torn] [--seed S]
                        [ENGINE] [--json FILE] [--junit FILE] [--stop-on-first] [--workers N]

Runs each scenario's workload once, then crashes it at every I/O point (of the workload and of
the restore's run to completion) in each cache mode: where a crash leaves few cached writes,
every subset of them survives in turn; where it leaves many, a seeded sample. Depth 2 also
crashes every recovery at each of its I/O points. Crash states that leave byte-identical images
at the same point of the workload are checked once (the "distinct" count).

SCENARIO is a scenario file (JSON, see scenarios/scenario.schema.json), a directory of them, or
the name of a bundled scenario (e.g. protected-restore; prestore exhaust scenarios/ runs all).

Options:
  --depth 1|2               override the scenarios' depth (1: one crash per I/O point;
                            2: also a second crash at every I/O point of each recovery)
  --modes LIST              override the scenarios' cache modes: a comma-separated list of
                            drop, keep, subset, torn
  --seed S                  the seed for sampled crash states (default ${DEFAULT_EXHAUST_SEED})
  --stop-on-first           stop at the first violation
${workersHelp('crash states')}
  -h, --help                this help

${ENGINE_HELP}

${REPORT_HELP}

${EXIT_HELP}

Examples:
  prestore exhaust scenarios/protected-restore.json
  prestore exhaust scenarios/ --depth 2 --modes torn --junit exhaust.xml
  prestore exhaust my-scenario.json --engine ./dist/my-engine.js`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { ...CAMPAIGN_OPTIONS, depth: { type: 'string' }, modes: { type: 'string' }, 'stop-on-first': { type: 'boolean' }, workers: { type: 'string' } }, { positionals: true });
    const workers = workersFlag(values);
    if (workers > 1 && values['stop-on-first'] === true) throw new UsageError('--workers and --stop-on-first do not go together: each worker would stop at its own first violation');
    if (positionals.length === 0) throw new UsageError('exhaust needs at least one scenario file (or a bundled scenario name)');
    const depth = depthFlag(values.depth);
    const modes = modesFlag(values.modes);
    // Scenario files first: their errors do not depend on the engine.
    const seams = seamsOf(io);
    const scenarios = await loadScenarios(await scenarioArgs(positionals, io.cwd ?? process.cwd(), seams.bundledScenarios()), seams);
    const ctx = await prepare(io, values, () => DEFAULT_EXHAUST_SEED);
    const stopOnFirst = values['stop-on-first'] === true;
    const parts: Part[] = [];
    const overrides = { ...(depth === undefined ? {} : { depth }), ...(modes === undefined ? {} : { modes }) };
    if (workers > 1) {
      const job = { engineFlags: values, cwd: ctx.cwd, scenarios: scenarios.map((s) => s.scenario), options: { seed: ctx.seed, engineArgs: ctx.engine.engineArgs, ...overrides } };
      const results = await exhaustInWorkers(ctx.engine.factory, job, workers, threadGuard(ctx.engine.callTimeoutMs));
      return finish(ctx, 'exhaust', results.map(({ result, elapsedMs }, i) => ({ kind: 'exhaust', name: scenarios[i]!.scenario.name, file: scenarios[i]!.file, result, elapsedMs })));
    }
    for (const { scenario, file } of scenarios) {
      const part = await exhaustPart(ctx, scenario, file, { ...(depth === undefined ? {} : { depth }), ...(modes === undefined ? {} : { modes }), stopOnFirst });
      parts.push(part);
      if (stopOnFirst && part.result.violations.length > 0) break;
    }
    return finish(ctx, 'exhaust', parts);
  },
};

export default exhaust;
