/** `prestore start` (`npm start`): the default campaign, bundled scenarios then a short explore. */
import { integerFlag, parse } from '../args.js';
import { CAMPAIGN_OPTIONS, DEVICE_PROFILE_HELP, EXIT_HELP, exhaustPart, explorePart, finish, prepare, REPORT_HELP } from '../campaign-run.js';
import { type Command, InputError } from '../command.js';
import { ENGINE_HELP } from '../engine-arg.js';
import { type Part, scenarioIdentity } from '../report.js';
import { loadScenarios, scenarioArgs } from '../scenario-args.js';
import { seamsOf } from '../seams.js';

export const START_SEED = 'prestore-start';
export const START_RUNS = 40;
/** Each bundled scenario at depth 1, its I/O errors too: together a few seconds. */
const START_EXHAUST = { depth: 1, eio: true } as const;

const start: Command = {
  name: 'start',
  summary: 'the default campaign (npm start): every bundled scenario at depth 1 with I/O errors, then a short explore',
  help: `Usage: prestore start [--runs N] [--seed S] [ENGINE] [--json FILE] [--junit FILE]

The default campaign, on in-memory disks: exhausts every bundled scenario (scenarios/*.json) at
depth 1 in each of its cache modes, with an I/O error at every I/O point too (as exhaust --eio),
then explores ${START_RUNS} random cases, and prints a summary table and the coverage per scenario
and cache mode. Against the reference engine every check
should hold; against a vendor's engine it is a quick first look before longer runs.

Options:
  --runs N                  random cases to explore after the scenarios (default ${START_RUNS})
  --seed S                  the seed (default ${START_SEED}: the same output every time)
${DEVICE_PROFILE_HELP}
  -h, --help                this help

${ENGINE_HELP}

${REPORT_HELP}

${EXIT_HELP}`,
  async run(argv, io) {
    const { values } = parse(argv, { ...CAMPAIGN_OPTIONS, runs: { type: 'string' } });
    const runs = integerFlag('runs', values.runs, START_RUNS, 0, 10_000_000);
    const seams = seamsOf(io);
    const dir = seams.bundledScenarios();
    const args = await scenarioArgs([dir], io.cwd ?? process.cwd(), dir).catch((e: unknown) => {
      throw new InputError(`the bundled scenarios are missing: ${(e as Error).message}`);
    });
    const scenarios = await loadScenarios(args, seams);
    const ctx = await prepare(io, values, () => START_SEED);
    const parts: Part[] = [];
    for (const { scenario, file } of scenarios) parts.push(await exhaustPart(ctx, scenario, file, START_EXHAUST));
    if (runs > 0) parts.push(await explorePart(ctx, runs));
    return finish(ctx, 'start', { runs, scenarios: scenarioIdentity(scenarios), eio: true }, parts);
  },
};

export default start;
