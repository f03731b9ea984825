/**
 * What `explore`, `exhaust` and `start` share: the engine and report flags, running campaigns
 * with a progress bar, and the ending (reports written, summary printed, exit code).
 */
import type { CampaignOptions, CampaignResult } from '../harness/campaign.js';
import type { Scenario } from '../harness/case.js';
import { seedFlag } from './args.js';
import { type CommandIo, UsageError } from './command.js';
import { ENGINE_OPTIONS, type EngineChoice, resolveEngine } from './engine-arg.js';
import { progressDisplay, type ProgressDisplay } from './progress.js';
import { checkReportTarget, exitCode, jsonReport, junitReport, type Part, type RunReport, writeAtomically } from './report.js';
import { checkSaveTarget, SAVE_FAILURES_HELP, saveFailures } from './save-failures.js';
import { type Seams, seamsOf } from './seams.js';
import { summaryLines } from './summary.js';
import { packageVersion } from './version.js';
import { formatShard, parseShard, type Shard } from '../harness/shard.js';

/** The flags every campaign command takes besides its own. */
export const CAMPAIGN_OPTIONS = {
  ...ENGINE_OPTIONS,
  seed: { type: 'string' },
  json: { type: 'string' },
  junit: { type: 'string' },
  'save-failures': { type: 'string' },
  shard: { type: 'string' },
} as const;

export const REPORT_HELP = `Reports:
  --json FILE               write the result as JSON (- for standard output; the summary
                            then goes to standard error)
  --junit FILE              write a JUnit XML report for CI (- for standard output)
${SAVE_FAILURES_HELP}
  --shard i/n               run only shard i of n (a deterministic partition of the cases, for
                            n CI jobs); prestore merge combines the shards' --json results`;

export const EXIT_HELP = `Exit status: 0 every check held, 1 a violation was found, 2 bad usage or bad input,
3 an internal error (a bug in prestore: please report it).`;

export interface CampaignFlags {
  readonly engine?: string;
  readonly 'engine-cmd'?: string;
  readonly seed?: string;
  readonly json?: string;
  readonly junit?: string;
  readonly 'save-failures'?: string;
  readonly shard?: string;
}

export interface CampaignContext {
  readonly io: CommandIo;
  readonly seams: Seams;
  readonly cwd: string;
  readonly engine: EngineChoice;
  readonly seed: string;
  readonly progress: ProgressDisplay;
  readonly flags: CampaignFlags;
  readonly shard: Shard | undefined;
  readonly started: number;
}

/** Checks the shared flags, resolves the engine: everything that can fail before the long run. */
export async function prepare(io: CommandIo, flags: CampaignFlags, defaultSeed: (seams: Seams) => string): Promise<CampaignContext> {
  const seams = seamsOf(io);
  const cwd = io.cwd ?? process.cwd();
  if (flags.json === '-' && flags.junit === '-') throw new UsageError('--json and --junit cannot both go to standard output');
  await checkReportTarget('json', flags.json, cwd);
  await checkReportTarget('junit', flags.junit, cwd);
  await checkSaveTarget(flags['save-failures'], cwd);
  const seed = seedFlag(flags.seed) ?? defaultSeed(seams);
  let shard: Shard | undefined;
  try {
    shard = flags.shard === undefined ? undefined : parseShard(flags.shard);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const engine = await resolveEngine(flags, seams.engineModules, cwd);
  return { io, seams, cwd, engine, seed, progress: progressDisplay(io, seams.now), flags, shard, started: seams.now() };
}

function options(ctx: CampaignContext, extra: Partial<CampaignOptions>): CampaignOptions {
  return { seed: ctx.seed, engineArgs: ctx.engine.engineArgs, onProgress: (p) => ctx.progress.update(p), ...(ctx.shard === undefined ? {} : { shard: ctx.shard }), ...extra };
}

async function timed(ctx: CampaignContext, label: string, unit: string, run: () => Promise<CampaignResult>): Promise<{ result: CampaignResult; elapsedMs: number }> {
  const t0 = ctx.seams.now();
  ctx.progress.begin(label, unit);
  try {
    const result = await run();
    return { result, elapsedMs: ctx.seams.now() - t0 };
  } finally {
    ctx.progress.end();
  }
}

export async function explorePart(ctx: CampaignContext, runs: number, extra: Partial<CampaignOptions> = {}): Promise<Part> {
  const { result, elapsedMs } = await timed(ctx, 'explore', 'cases', () => ctx.seams.harness.explore(ctx.engine.factory, options(ctx, { runs, ...extra })));
  return { kind: 'explore', name: 'explore', runs, result, elapsedMs };
}

export async function exhaustPart(ctx: CampaignContext, scenario: Scenario, file: string, extra: Partial<CampaignOptions> = {}): Promise<Part> {
  const { result, elapsedMs } = await timed(ctx, scenario.name, 'crash states', () => ctx.seams.harness.exhaust(ctx.engine.factory, scenario, options(ctx, extra)));
  return { kind: 'exhaust', name: scenario.name, file, result, elapsedMs };
}

/** Writes the reports, prints the summary, and gives the exit code. */
export async function finish(ctx: CampaignContext, command: string, parts: readonly Part[]): Promise<number> {
  const report: RunReport = {
    command,
    version: packageVersion(),
    engine: ctx.engine.label,
    engineName: ctx.engine.factory.name,
    engineArgs: ctx.engine.engineArgs,
    seed: ctx.seed,
    ...(ctx.shard === undefined ? {} : { shard: formatShard(ctx.shard) }),
    parts,
    elapsedMs: ctx.seams.now() - ctx.started,
  };
  const { json, junit } = ctx.flags;
  if (json !== undefined) {
    const text = JSON.stringify(jsonReport(report), null, 2) + '\n';
    if (json === '-') ctx.io.stdout.write(text);
    else await writeAtomically(json, text, ctx.cwd);
  }
  if (junit !== undefined) {
    const text = junitReport(report);
    if (junit === '-') ctx.io.stdout.write(text);
    else await writeAtomically(junit, text, ctx.cwd);
  }
  const human = json === '-' || junit === '-' ? ctx.io.stderr : ctx.io.stdout;
  human.write(summaryLines(report).join('\n') + '\n');
  const saveDir = ctx.flags['save-failures'];
  for (const file of saveDir === undefined ? [] : await saveFailures(saveDir, report, ctx.cwd)) human.write(`counterexample saved: ${file} (prestore replay ${file})\n`);
  return exitCode(report);
}
