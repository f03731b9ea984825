/**
 * One call for a test suite (vitest, jest, node:test): `checkEngine(engine, { engineArgs })`
 * exhausts scenarios (by default every bundled one: a crash at every I/O point, in each cache
 * mode) and then explores random cases, as `prestore start` does, and returns what a test asserts
 * on (`ok`, the violations) and what a person reads when it fails (`format()`: the report the
 * command line prints, each failure with its rule, trace, shrunk crash and replay line).
 *
 * The replay lines name the engine as `engineArgs` says, so that a line pasted into a shell runs
 * the same engine: say how the command line reaches it (`--engine ./my-engine.mjs`, or
 * `--engine-cmd "python3 my_engine.py"`). The only clock read is for the report's elapsed times.
 */
import { performance } from 'node:perf_hooks';
import type { CacheMode } from './devices/fault-layer.js';
import type { EngineFactory } from './engine/contract.js';
import { UsageError } from './errors.js';
import type { Progress } from './harness/campaign.js';
import type { Scenario, Violation } from './harness/case.js';
import { exhaust } from './harness/exhaust.js';
import { explore } from './harness/explore.js';
import { loadScenarioOrCounterexample } from './harness/counterexample.js';
import { bundledScenariosDir } from './harness/package-root.js';
import { distinctFailures, type Failure } from './cli/failures.js';
import { exitCode, type Part, type RunReport, scenarioIdentity, totals } from './cli/report.js';
import { scenarioArgs } from './cli/scenario-args.js';
import { summaryLines } from './cli/summary.js';
import { packageVersion } from './cli/version.js';

export interface CheckEngineOptions {
  /**
   * How the command line reaches this engine, repeated in every replay line and counterexample:
   * `--engine ./my-engine.mjs` (a module exporting the factory) or `--engine-cmd "COMMAND"`.
   */
  readonly engineArgs: string;
  /** How the report names the engine (default: `engineArgs` without the flag). */
  readonly label?: string;
  /** Random cases explored after the scenarios (default 100; 0 explores none). */
  readonly runs?: number;
  /** The seed of the sampled crash states and the random cases (default `prestore-check`). */
  readonly seed?: string;
  /** 1: a crash at every I/O point; 2: also a second crash at every I/O point of each recovery (default 1). */
  readonly depth?: 1 | 2;
  /** Cache modes to crash in (default: each scenario's own, all four for the bundled ones). */
  readonly modes?: readonly CacheMode[];
  /** Also an I/O error at every I/O point of each scenario, transient and sticky (`exhaust --eio`; default false). */
  readonly eio?: boolean;
  /**
   * The scenarios to exhaust: scenario files, directories of them, names of bundled scenarios,
   * counterexample files (their workload, crashed at every I/O point: docs/oracle.md), or
   * scenarios already loaded. Default: every bundled scenario. An empty list exhausts none.
   */
  readonly scenarios?: readonly (string | Scenario)[];
  /** Relative scenario paths resolve against this directory (default: the process's). */
  readonly cwd?: string;
  /** Called as cases complete, per scenario and then for the random cases. */
  readonly onProgress?: (part: string, progress: Progress) => void;
  /** How long one engine call may take before the check ends as a hang (default 10 s). */
  readonly callTimeoutMs?: number;
}

export interface EngineCheck {
  /** True when every check held in every case: the engine ran all the work, and no rule failed. */
  readonly ok: boolean;
  /** How the report names the engine. */
  readonly engine: string;
  readonly seed: string;
  /** Cases run (./harness/campaign.ts says what counts), crash-and-recover cycles, distinct ones. */
  readonly cases: number;
  readonly crashStates: number;
  /** Exhaust's crash states with identical images counted once; absent when explore ran too, since it folds none. */
  readonly distinctCrashStates?: number;
  /** Every violation, tagged with the scenario (or `explore`) that found it. */
  readonly violations: readonly (Violation & { readonly part: string })[];
  /** Each distinct failure once, shrunk: what `format()` prints and `saveFailures` writes. */
  readonly failures: readonly Failure[];
  /** The whole run, for `junitReport`, `jsonReport` and `saveFailures`. */
  readonly report: RunReport;
  /** The report the command line prints: the failures, then the summary and coverage tables. */
  format(): string;
}

const DEFAULT_RUNS = 100;
const DEFAULT_SEED = 'prestore-check';

function checked(options: CheckEngineOptions): { runs: number; depth: 1 | 2 } {
  if (typeof options.engineArgs !== 'string' || !/^--engine(-cmd)?[ =]\S/.test(options.engineArgs.trim())) {
    throw new UsageError(`checkEngine: engineArgs must say how the command line reaches the engine ("--engine ./my-engine.mjs" or "--engine-cmd \\"COMMAND\\""), not ${JSON.stringify(options.engineArgs)}`);
  }
  const runs = options.runs ?? DEFAULT_RUNS;
  if (!Number.isSafeInteger(runs) || runs < 0) throw new UsageError(`checkEngine: runs must be a whole number, 0 or more, not ${String(runs)}`);
  const depth = options.depth ?? 1;
  if (depth !== 1 && depth !== 2) throw new UsageError(`checkEngine: depth must be 1 or 2, not ${String(depth)}`);
  if (options.eio !== undefined && typeof options.eio !== 'boolean') throw new UsageError(`checkEngine: eio must be true or false, not ${JSON.stringify(options.eio)}`);
  // A check that runs no case would pass having checked nothing.
  if (runs === 0 && options.scenarios?.length === 0) throw new UsageError('checkEngine: no scenarios and runs 0: there would be nothing to check');
  return { runs, depth };
}

async function scenariosOf(options: CheckEngineOptions): Promise<{ scenario: Scenario; file?: string }[]> {
  const bundled = bundledScenariosDir();
  const wanted = options.scenarios ?? [bundled];
  const out: { scenario: Scenario; file?: string }[] = [];
  for (const s of wanted) {
    if (typeof s !== 'string') {
      out.push({ scenario: s });
      continue;
    }
    for (const arg of await scenarioArgs([s], options.cwd ?? process.cwd(), bundled)) out.push({ scenario: await loadScenarioOrCounterexample(arg.path, arg.file), file: arg.file });
  }
  return out;
}

/** The report's name for the engine: `./my-engine.mjs`, or `cmd: python3 my_engine.py`. */
function labelOf(engineArgs: string): string {
  const m = /^--engine(-cmd)?[ =](.*)$/.exec(engineArgs.trim())!;
  const value = /^(['"])(.*)\1$/.exec(m[2]!)?.[2] ?? m[2]!;
  return m[1] === undefined ? value : `cmd: ${value}`;
}

export async function checkEngine(engine: EngineFactory, options: CheckEngineOptions): Promise<EngineCheck> {
  const { runs, depth } = checked(options);
  const eio = options.eio === true ? { eio: true } : {};
  const seed = options.seed ?? DEFAULT_SEED;
  const started = performance.now();
  const scenarios = await scenariosOf(options);
  const parts: Part[] = [];
  const common = { seed, engineArgs: options.engineArgs.trim(), ...(options.callTimeoutMs === undefined ? {} : { callTimeoutMs: options.callTimeoutMs }) };
  for (const { scenario, file } of scenarios) {
    const t0 = performance.now();
    const result = await exhaust(engine, scenario, { ...common, depth, ...(options.modes === undefined ? {} : { modes: options.modes }), ...eio, onProgress: (p) => options.onProgress?.(scenario.name, p) });
    parts.push({ kind: 'exhaust', name: scenario.name, ...(file === undefined ? {} : { file }), result, elapsedMs: performance.now() - t0 });
  }
  if (runs > 0) {
    const t0 = performance.now();
    const result = await explore(engine, { ...common, runs, onProgress: (p) => options.onProgress?.('explore', p) });
    parts.push({ kind: 'explore', name: 'explore', runs, result, elapsedMs: performance.now() - t0 });
  }
  const report: RunReport = {
    command: 'check',
    version: packageVersion(),
    engine: options.label ?? labelOf(common.engineArgs),
    engineName: engine.name,
    engineArgs: common.engineArgs,
    seed,
    run: { runs, scenarios: scenarioIdentity(scenarios), depth, ...(options.modes === undefined ? {} : { modes: options.modes }), ...eio },
    parts,
    elapsedMs: performance.now() - started,
  };
  const t = totals(report);
  return {
    ok: exitCode(report) === 0,
    engine: report.engine,
    seed,
    cases: t.cases,
    crashStates: t.crashStates,
    ...(t.distinctCrashStates === undefined ? {} : { distinctCrashStates: t.distinctCrashStates }),
    violations: t.violations,
    failures: distinctFailures(parts.map((p) => ({ name: p.name, violations: p.result.violations }))),
    report,
    format: () => summaryLines(report).join('\n') + '\n',
  };
}
