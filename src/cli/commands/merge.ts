/** `prestore merge`: the `--json` results of the shards of one run, combined into the run's result. */
import type { CampaignResult, CoverageRow } from '../../harness/campaign.js';
import { countByRule, mergeCoverageRows } from '../../harness/campaign.js';
import type { Violation } from '../../harness/case.js';
import type { Shard } from '../../harness/shard.js';
import { parse } from '../args.js';
import { type Command, InputError, UsageError } from '../command.js';
import { checkReportTarget, exitCode, jsonReport, jsonText, junitReport, type Part, type RunReport, writeAtomically } from '../report.js';
import { identityOf, loadShardResult, type ShardResult } from '../shard-result.js';
import { summaryLines } from '../summary.js';

/** Every shard of one run, once each: or the first thing that is not so. */
function checkComplete(files: readonly string[], loaded: readonly { result: ShardResult; shard: Shard }[]): number {
  const first = identityOf(loaded[0]!.result);
  const count = loaded[0]!.shard.count;
  const seen = new Map<number, string>();
  loaded.forEach(({ result, shard }, i) => {
    identityOf(result).forEach(([field, value], k) => {
      const expected = first[k]![1];
      if (JSON.stringify(value) !== JSON.stringify(expected)) throw new InputError(`${files[i]}: ${field} is ${show(value)}, but ${files[0]} has ${show(expected)}: not shards of one run`);
    });
    if (shard.count !== count) throw new InputError(`${files[i]}: shard ${result.shard} of ${shard.count}, but ${files[0]} is one of ${count}`);
    if (seen.has(shard.index)) throw new InputError(`${files[i]}: shard ${result.shard} again (also in ${seen.get(shard.index)})`);
    seen.set(shard.index, files[i]!);
  });
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !seen.has(i));
  if (missing.length > 0) throw new InputError(`shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${count}`).join(', ')} missing: the merge would not be the whole run`);
  return count;
}

function show(value: unknown): string {
  return value === undefined ? 'not given' : JSON.stringify(value);
}

/** The shards' parts of one name, added up; rows of one scenario and mode likewise. */
function mergedParts(loaded: readonly { result: ShardResult; shard: Shard }[]): Part[] {
  const ordered = [...loaded].sort((a, b) => a.shard.index - b.shard.index).map((l) => l.result);
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
merged, the summary printed. The files must be shards of the same run, each shard 1..n exactly
once: the same command, engine, seed and prestore version, and the same work (explore's --runs;
the scenarios, by content; --depth, --modes, --eio and --stop-on-first), as each result records under
"run". Each file must be a regular file holding a result as prestore wrote it.

Options:
  --json FILE               write the merged result as JSON (- for standard output)
  --junit FILE              write a JUnit XML report (- for standard output)
  -h, --help                this help

Exit status: 0 every check held in every shard, 1 a violation was found, 2 bad usage or bad input
(a file missing, unreadable or not a result, shards of different runs, a shard missing or given
twice).

Example:
  prestore merge shard-*.json --junit prestore.xml`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { json: { type: 'string' }, junit: { type: 'string' } }, { positionals: true });
    if (positionals.length === 0) throw new UsageError('merge needs the --json result files of the shards');
    const cwd = io.cwd ?? process.cwd();
    if (values.json === '-' && values.junit === '-') throw new UsageError('--json and --junit cannot both go to standard output');
    await checkReportTarget('json', values.json, cwd);
    await checkReportTarget('junit', values.junit, cwd);
    const loaded = await Promise.all(positionals.map((f) => loadShardResult(f, cwd)));
    const count = checkComplete(positionals, loaded);
    const first = loaded[0]!.result;
    const report: RunReport = {
      command: first.command,
      version: first.version,
      engine: first.engine,
      engineName: first.engineName,
      engineArgs: first.engineArgs,
      seed: first.seed,
      mergedShards: count,
      run: first.run,
      parts: mergedParts(loaded),
      elapsedMs: Math.max(...loaded.map((l) => l.result.elapsedMs)),
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
