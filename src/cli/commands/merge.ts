/** `prestore merge`: the `--json` results of the shards of one run, combined into the run's result. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CampaignResult, CoverageRow } from '../../harness/campaign.js';
import { countByRule, mergeCoverageRows } from '../../harness/campaign.js';
import type { Violation } from '../../harness/case.js';
import { parseShard } from '../../harness/shard.js';
import { parse } from '../args.js';
import { type Command, InputError, UsageError } from '../command.js';
import { checkReportTarget, exitCode, jsonReport, jsonText, junitReport, type Part, type RunReport, writeAtomically } from '../report.js';
import { summaryLines } from '../summary.js';

/** The fields of a `--json` result that merging reads. */
interface ShardResult extends Omit<RunReport, 'parts' | 'shard'> {
  readonly shard: string;
  readonly violations: readonly (Violation & { readonly scenario?: string })[];
  readonly parts: readonly { kind: 'explore' | 'exhaust'; name: string; file?: string; runs?: number; cases: number; crashStates: number; distinctCrashStates?: number; elapsedMs: number }[];
  readonly coverage: readonly CoverageRow[];
}

async function load(file: string, cwd: string): Promise<ShardResult> {
  let data: ShardResult;
  try {
    data = JSON.parse(await readFile(resolve(cwd, file), 'utf8')) as ShardResult;
  } catch (e) {
    throw new InputError(`${file}: cannot read a JSON result: ${(e as Error).message}`);
  }
  for (const field of ['command', 'engine', 'seed', 'parts', 'violations', 'coverage'] as const) {
    if (data[field] === undefined) throw new InputError(`${file}: not a prestore --json result (no "${field}")`);
  }
  if (typeof data.shard !== 'string') throw new InputError(`${file}: a result of a whole run, not of a shard (no "shard"; run with --shard i/n)`);
  return data;
}

/** Every shard of one run, once each: or the first thing that is not so. */
function checkComplete(files: readonly string[], results: readonly ShardResult[]): number {
  const first = results[0]!;
  const count = parseShard(first.shard).count;
  const seen = new Map<number, string>();
  results.forEach((r, i) => {
    for (const field of ['command', 'engine', 'engineArgs', 'seed'] as const) {
      if (r[field] !== first[field]) throw new InputError(`${files[i]}: ${field} is ${JSON.stringify(r[field])}, but ${files[0]} has ${JSON.stringify(first[field])}: not shards of one run`);
    }
    const shard = parseShard(r.shard);
    if (shard.count !== count) throw new InputError(`${files[i]}: shard ${r.shard} of ${shard.count}, but ${files[0]} is one of ${count}`);
    if (seen.has(shard.index)) throw new InputError(`${files[i]}: shard ${r.shard} again (also in ${seen.get(shard.index)})`);
    seen.set(shard.index, files[i]!);
  });
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !seen.has(i));
  if (missing.length > 0) throw new InputError(`shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${count}`).join(', ')} missing: the merge would not be the whole run`);
  return count;
}

/** The shards' parts of one name, added up; rows of one scenario and mode likewise. */
function mergedParts(results: readonly ShardResult[]): Part[] {
  const ordered = [...results].sort((a, b) => parseShard(a.shard).index - parseShard(b.shard).index);
  return ordered[0]!.parts.map((p) => {
    const same = ordered.map((r) => r.parts.find((q) => q.kind === p.kind && q.name === p.name)).filter((q) => q !== undefined);
    // explore's own result names no scenario; start's names its explore part's violations "explore".
    const violations = ordered.flatMap((r) => r.violations.filter((v) => (v.scenario ?? 'explore') === p.name).map(({ scenario: _, ...v }) => v as Violation));
    const rows = new Map<string, CoverageRow>();
    for (const row of ordered.flatMap((r) => r.coverage.filter((c) => c.scenario === p.name))) {
      const key = `${row.scenario}/${row.mode}`;
      const had = rows.get(key);
      rows.set(key, had === undefined ? row : mergeCoverageRows(had, row));
    }
    const sum = (f: (q: (typeof same)[number]) => number) => same.reduce((t, q) => t + f(q), 0);
    const result: CampaignResult = {
      engine: ordered[0]!.engineName,
      seed: ordered[0]!.seed,
      cases: sum((q) => q.cases),
      crashStates: sum((q) => q.crashStates),
      ...(p.distinctCrashStates === undefined ? {} : { distinctCrashStates: sum((q) => q.distinctCrashStates ?? 0) }),
      violations,
      violationsByRule: countByRule(violations),
      coverage: [...rows.values()],
    };
    // Shards run side by side: the part took as long as its slowest shard.
    return { kind: p.kind, name: p.name, ...(p.file === undefined ? {} : { file: p.file }), ...(p.runs === undefined ? {} : { runs: p.runs }), result, elapsedMs: Math.max(...same.map((q) => q.elapsedMs)) };
  });
}

const merge: Command = {
  name: 'merge',
  summary: 'combine the --json results of the shards of one run (--shard i/n) into one result',
  help: `Usage: prestore merge FILE... [--json FILE] [--junit FILE]

Combines the --json results of every shard of one run (prestore explore|exhaust|start --shard i/n)
into the result of the whole run: cases, crash states and violations added up, coverage rows
merged, the summary printed. The files must be shards of the same run (same command, engine and
seed), each shard 1..n exactly once.

Options:
  --json FILE               write the merged result as JSON (- for standard output)
  --junit FILE              write a JUnit XML report (- for standard output)
  -h, --help                this help

Exit status: 0 every check held in every shard, 1 a violation was found, 2 bad usage or bad input
(a file missing or unreadable, shards of different runs, a shard missing or given twice).

Example:
  prestore merge shard-*.json --junit prestore.xml`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { json: { type: 'string' }, junit: { type: 'string' } }, { positionals: true });
    if (positionals.length === 0) throw new UsageError('merge needs the --json result files of the shards');
    const cwd = io.cwd ?? process.cwd();
    if (values.json === '-' && values.junit === '-') throw new UsageError('--json and --junit cannot both go to standard output');
    await checkReportTarget('json', values.json, cwd);
    await checkReportTarget('junit', values.junit, cwd);
    const results = await Promise.all(positionals.map((f) => load(f, cwd)));
    const count = checkComplete(positionals, results);
    const first = results[0]!;
    const report: RunReport = {
      command: first.command,
      version: first.version,
      engine: first.engine,
      engineName: first.engineName,
      engineArgs: first.engineArgs,
      seed: first.seed,
      mergedShards: count,
      parts: mergedParts(results),
      elapsedMs: Math.max(...results.map((r) => r.elapsedMs)),
    };
    const emit = async (target: string, text: string) => (target === '-' ? void io.stdout.write(text) : writeAtomically(target, text, cwd));
    if (values.json !== undefined) await emit(values.json, jsonText(jsonReport(report)));
    if (values.junit !== undefined) await emit(values.junit, junitReport(report));
    const human = values.json === '-' || values.junit === '-' ? io.stderr : io.stdout;
    human.write(`${summaryLines(report).join('\n')}\n`);
    return exitCode(report);
  },
};

export default merge;
