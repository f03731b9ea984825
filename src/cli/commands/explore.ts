/** `prestore explore`: random cases from fast-check against one engine, shrunk when one fails. */
import { DEFAULT_RUNS } from '../../harness/campaign.js';
import { integerFlag, parse } from '../args.js';
import { CAMPAIGN_OPTIONS, DEVICE_PROFILE_HELP, EXIT_HELP, explorePart, finish, prepare, REPORT_HELP } from '../campaign-run.js';
import type { Command } from '../command.js';
import { exploreInWorkers, workersFlag, workersHelp } from '../campaign-workers.js';
import { ENGINE_HELP } from '../engine-arg.js';
import { threadGuard } from '../watchdog.js';

const explore: Command = {
  name: 'explore',
  summary: 'random workloads, crashes and I/O errors against an engine; failures shrink to a minimal case',
  help: `Usage: prestore explore [--runs N] [--seed S] [ENGINE] [--json FILE] [--junit FILE] [--stop-on-first]
                        [--workers N] [--shard i/n]

Draws random cases with fast-check: a geometry (short last extents included), how source and
clone differ, host reads, writes and flushes on both volumes, a protected or unprotected
restore with copying steps, crashes at random I/O points in every cache mode, transient and
sticky I/O errors, and crashes during recovery. Every case is judged against the oracle's seven
rules. A failing case is shrunk to a minimal one and printed with the line that replays it.

Options:
  --runs N                  cases to draw (default ${DEFAULT_RUNS})
  --seed S                  the seed (default: a fresh random one, printed in the summary);
                            the same seed, engine and runs draw the same cases
  --stop-on-first           stop at the first violation (after shrinking it)
${workersHelp('cases')}
${DEVICE_PROFILE_HELP}
  -h, --help                this help

${ENGINE_HELP}

${REPORT_HELP}

${EXIT_HELP}

Examples:
  prestore explore --runs 500 --seed 42
  prestore explore --engine mutant:clone-write --stop-on-first
  prestore explore --engine-cmd "python3 my_engine.py" --junit explore.xml`,
  async run(argv, io) {
    const { values } = parse(argv, { ...CAMPAIGN_OPTIONS, runs: { type: 'string' }, 'stop-on-first': { type: 'boolean' }, workers: { type: 'string' } });
    const runs = integerFlag('runs', values.runs, DEFAULT_RUNS, 1, 10_000_000);
    const workers = workersFlag(values);
    const ctx = await prepare(io, values, (seams) => seams.randomSeed());
    const stopOnFirst = values['stop-on-first'] === true;
    if (workers > 1) {
      const started = ctx.seams.now();
      const result = await exploreInWorkers(ctx.engine.factory, { engineFlags: values, cwd: ctx.cwd, options: { seed: ctx.seed, engineArgs: ctx.engine.engineArgs, runs, ...(ctx.profile === undefined ? {} : { profile: ctx.profile }) } }, workers, threadGuard(ctx.engine.callTimeoutMs));
      return finish(ctx, 'explore', { runs, stopOnFirst }, [{ kind: 'explore', name: 'explore', runs, result, elapsedMs: ctx.seams.now() - started }]);
    }
    const part = await explorePart(ctx, runs, { stopOnFirst });
    return finish(ctx, 'explore', { runs, stopOnFirst }, [part]);
  },
};

export default explore;
