/**
 * What `explore`, `exhaust` and `start` share: the engine and report flags, running campaigns
 * with a progress bar, and the ending (reports written, summary printed, exit code).
 */
import { resolve } from 'node:path';
import type { CampaignOptions, CampaignResult } from '../harness/campaign.js';
import type { Scenario } from '../harness/case.js';
import type { DeviceProfile } from '../devices/device-profile.js';
import { seedFlag } from './args.js';
import { DEVICE_PROFILE_HELP, DEVICE_PROFILE_OPTION, deviceProfileFlag } from './device-profile-arg.js';
import { type CommandIo, InputError, UsageError } from './command.js';
import { ENGINE_OPTIONS, type EngineChoice, type EngineFlags, resolveEngine } from './engine-arg.js';
import { progressDisplay, type ProgressDisplay } from './progress.js';
import { campaignHtml, checkStdoutReports, HTML_HELP } from './html-report.js';
import { checkReportTarget, exitCode, jsonReport, jsonText, junitReport, type Part, type RunIdentity, type RunReport, writeAtomically } from './report.js';
import { checkSaveTarget, SAVE_FAILURES_HELP, saveFailures } from './save-failures.js';
import { type Seams, seamsOf } from './seams.js';
import { summaryLines } from './summary.js';
import { packageVersion } from './version.js';
import { threadGuard } from './watchdog.js';
import { formatShard, parseShard, type Shard } from '../harness/shard.js';

/** The flags every campaign command takes besides its own. */
export const CAMPAIGN_OPTIONS = {
  ...ENGINE_OPTIONS,
  seed: { type: 'string' },
  json: { type: 'string' },
  junit: { type: 'string' },
  html: { type: 'string' },
  'save-failures': { type: 'string' },
  shard: { type: 'string' },
  ...DEVICE_PROFILE_OPTION,
} as const;

export { DEVICE_PROFILE_HELP };

export const REPORT_HELP = `Reports:
  --json FILE               write the result as JSON (- for standard output; the summary
                            then goes to standard error)
  --junit FILE              write a JUnit XML report for CI (- for standard output)
${HTML_HELP}
${SAVE_FAILURES_HELP}
  --shard i/n               run only shard i of n (a deterministic partition of the cases, for
                            n CI jobs); prestore merge combines the shards' --json results
Report files are checked before the run, and written whole over a regular file or a new name,
never over a device, a FIFO or a symbolic link.`;

export const EXIT_HELP = `Exit status: 0 every check held, 1 a violation was found, 2 bad usage or bad input,
3 an internal error (a bug in prestore: please report it).`;

export interface CampaignFlags extends EngineFlags {
  readonly seed?: string;
  readonly json?: string;
  readonly junit?: string;
  readonly html?: string;
  readonly 'save-failures'?: string;
  readonly shard?: string;
  readonly 'device-profile'?: string;
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
  /** --device-profile: the devices every case runs on (absent: each scenario's own, else the default). */
  readonly profile: DeviceProfile | undefined;
  readonly started: number;
}

/** Checks the shared flags, resolves the engine: everything that can fail before the long run. */
export async function prepare(io: CommandIo, flags: CampaignFlags, defaultSeed: (seams: Seams) => string): Promise<CampaignContext> {
  const seams = seamsOf(io);
  const cwd = io.cwd ?? process.cwd();
  checkStdoutReports({ json: flags.json, junit: flags.junit, html: flags.html });
  const named = (['json', 'junit', 'html'] as const).flatMap((flag) => (flags[flag] === undefined || flags[flag] === '-' ? [] : [{ flag, path: resolve(cwd, flags[flag]!) }]));
  const twice = named.find((n, i) => named.findIndex((m) => m.path === n.path) !== i);
  if (twice !== undefined) throw new UsageError(`--${named.find((m) => m.path === twice.path)!.flag} and --${twice.flag} name the same file: one report would replace the other`);
  await checkReportTarget('json', flags.json, cwd);
  await checkReportTarget('junit', flags.junit, cwd);
  await checkReportTarget('html', flags.html, cwd);
  await checkSaveTarget(flags['save-failures'], cwd);
  const seed = seedFlag(flags.seed) ?? defaultSeed(seams);
  let shard: Shard | undefined;
  try {
    shard = flags.shard === undefined ? undefined : parseShard(flags.shard);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const profile = await deviceProfileFlag(flags['device-profile'], cwd);
  const engine = await resolveEngine(flags, seams.engineModules, cwd);
  return { io, seams, cwd, engine, seed, progress: progressDisplay(io, seams.now), flags, shard, profile, started: seams.now() };
}

function options(ctx: CampaignContext, extra: Partial<CampaignOptions>): CampaignOptions {
  return {
    seed: ctx.seed,
    engineArgs: ctx.engine.engineArgs,
    ...threadGuard(ctx.engine.callTimeoutMs),
    onProgress: (p) => ctx.progress.update(p),
    ...(ctx.shard === undefined ? {} : { shard: ctx.shard }),
    ...(ctx.profile === undefined ? {} : { profile: ctx.profile }),
    ...extra,
  };
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
export async function finish(ctx: CampaignContext, command: string, run: RunIdentity, parts: readonly Part[]): Promise<number> {
  const report: RunReport = {
    command,
    version: packageVersion(),
    engine: ctx.engine.label,
    engineName: ctx.engine.factory.name,
    engineArgs: ctx.engine.engineArgs,
    seed: ctx.seed,
    ...(ctx.shard === undefined ? {} : { shard: formatShard(ctx.shard) }),
    run: ctx.profile === undefined ? run : { ...run, deviceProfile: ctx.profile },
    parts,
    elapsedMs: ctx.seams.now() - ctx.started,
  };
  const { json, junit, html } = ctx.flags;
  const human = [json, junit, html].includes('-') ? ctx.io.stderr : ctx.io.stdout;
  // Checked before the run, a report can still fail to be written after it (a full disk, a
  // target replaced meanwhile): that loses nothing else. The summary is printed, the failure named.
  const unwritten: string[] = [];
  const unlessUnwritable = async (write: () => Promise<void>) => {
    try {
      await write();
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      unwritten.push(e.message);
    }
  };
  const emit = async (target: string | undefined, text: () => string | Promise<string>) => {
    if (target === '-') ctx.io.stdout.write(await text());
    else if (target !== undefined) await unlessUnwritable(async () => writeAtomically(target, await text(), ctx.cwd));
  };
  const result = jsonReport(report);
  await emit(json, () => jsonText(result));
  await emit(junit, () => junitReport(report));
  // The page is drawn from the JSON result, as prestore report draws a result file.
  await emit(html, () => campaignHtml(result, async () => ctx.engine.factory));
  human.write(summaryLines(report).join('\n') + '\n');
  const saveDir = ctx.flags['save-failures'];
  if (saveDir !== undefined) {
    await unlessUnwritable(async () => {
      for (const file of await saveFailures(saveDir, report, ctx.cwd)) human.write(`counterexample saved: ${file} (prestore replay ${file})\n`);
    });
  }
  for (const message of unwritten) ctx.io.stderr.write(`prestore ${command}: ${message}\n`);
  // A violation stays the verdict (exit 1); a green run whose report is missing is no pass.
  const code = exitCode(report);
  return code === 0 && unwritten.length > 0 ? 2 : code;
}
