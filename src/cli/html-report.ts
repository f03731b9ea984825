/**
 * The HTML report (../report-html/) as the command line writes it: `--html FILE` on the campaign
 * commands, `replay` and `mutants`, and `prestore report RESULT.json`. Both campaign paths go
 * through the `--json` result, so a report written at the end of a run and one written later
 * from its result file are the same page. Violations are drawn by replaying them in process with
 * the engine their replay line names.
 */
import { RULES, type RuleName } from '../harness/case.js';
import type { EngineFactory } from '../engine/contract.js';
import type { Case } from '../harness/case.js';
import { parseJson } from '../harness/json-input.js';
import { replayCommand } from '../harness/replay-line.js';
import { type KillRowView, mutantsPage, type PartView, replayPage, runPage } from '../report-html/page.js';
import { type Picture, pictureOf, pictureOfCase, type RecordedViolation } from '../report-html/picture.js';
import type { EngineChoice } from './engine-arg.js';
import { InputError, UsageError } from './command.js';
import type { JsonResult } from './report.js';
import { formatMs } from './summary.js';

export const HTML_HELP = `  --html FILE               write a self-contained HTML report that draws each violation:
                            a timeline per device, its crashes and what survived them
                            (- for standard output)`;

/** At most one report may go to standard output. */
export function checkStdoutReports(flags: Readonly<Record<string, string | undefined>>): void {
  const toStdout = Object.entries(flags).filter(([, target]) => target === '-');
  if (toStdout.length > 1) throw new UsageError(`${toStdout.map(([flag]) => `--${flag}`).join(' and ')} cannot both go to standard output`);
}

/** The engine a replay line names, or why it cannot be run here. */
export type EngineFor = (replay: string) => Promise<EngineFactory | { readonly unavailable: string }>;

/** A violation as the `--json` result holds it. */
export interface ResultViolation extends RecordedViolation {
  readonly scenario?: string;
}

/**
 * The `--json` result of a campaign command, as far as the report reads it: what every version
 * wrote, and optionally what later versions added.
 */
export type CampaignResultFile = Pick<JsonResult, 'engine' | 'seed' | 'shard' | 'cases' | 'crashStates' | 'distinctCrashStates' | 'elapsedMs'> &
  Partial<Pick<JsonResult, 'command' | 'version' | 'violationsByRule' | 'parts' | 'coverage'>> & { readonly violations: readonly ResultViolation[] };

/** One row of the kill matrix; `prestore mutants --json` writes the array of these. */
export interface KillRow {
  readonly mutant: string;
  readonly description: string;
  readonly killed: boolean;
  readonly casesToKill: number | null;
  readonly elapsedMs: number;
  readonly rule: RuleName | null;
  readonly expectedRule: string;
  /** Absent from files written before it was kept. */
  readonly replay?: string | null;
}

/**
 * A campaign's page. Drawn: the first violation of each rule in each scenario, which is the one a
 * campaign shrinks; the others are listed, each with its replay line.
 */
export async function campaignHtml(result: CampaignResultFile, engineFor: EngineFor): Promise<string> {
  // Every command but explore names where each violation was found (`start` names its explore part `explore`).
  const where = (v: ResultViolation) => v.scenario;
  const firsts = new Map<string, ResultViolation>();
  for (const v of result.violations) if (!firsts.has(`${where(v)}/${v.rule}`)) firsts.set(`${where(v)}/${v.rule}`, v);
  const drawn = new Set(firsts.values());
  const pictures: Picture[] = [];
  for (const v of result.violations) if (drawn.has(v)) pictures.push(await pictureOf(v, await engineFor(v.replay), where(v)));
  const others = result.violations.filter((v) => !drawn.has(v)).map((v) => ({ ...v, ...(where(v) === undefined ? {} : { where: where(v)! }) }));
  const byRule = result.violationsByRule ?? Object.fromEntries(Object.values(RULES).map((r) => [r, result.violations.filter((v) => v.rule === r).length]));
  const parts: PartView[] = (result.parts ?? []).map((p) => ({
    name: p.kind === 'explore' ? `explore (${(p.runs ?? p.cases).toLocaleString('en-US')} runs)` : p.name,
    cases: p.cases,
    crashStates: p.crashStates,
    distinctCrashStates: p.distinctCrashStates,
    violations: p.violations,
    time: formatMs(p.elapsedMs),
  }));
  const command = result.command ?? 'run';
  return runPage({
    command,
    engine: result.engine,
    facts: [['engine', result.engine], ['seed', result.seed], ['command', `prestore ${command}`], ...(result.shard === undefined ? [] : [['shard', result.shard] as const]), ...(result.version === undefined ? [] : [['version', result.version] as const]), ['time', formatMs(result.elapsedMs)]],
    parts,
    totals: { cases: result.cases, crashStates: result.crashStates, distinctCrashStates: result.distinctCrashStates, violations: result.violations.length, time: formatMs(result.elapsedMs) },
    violationsByRule: byRule as Record<RuleName, number>,
    coverage: result.coverage ?? [],
    pictures,
    others,
  });
}

/** The kill matrix page, each killed mutant's violation drawn (`found` has them when the run is at hand). */
export async function mutantsHtml(rows: readonly KillRow[], seed: string | undefined, engineFor: EngineFor, found: ReadonlyMap<string, RecordedViolation> = new Map()): Promise<string> {
  const pictures: Picture[] = [];
  for (const row of rows) {
    if (!row.killed || row.rule === null) continue;
    const v = found.get(row.mutant) ?? (typeof row.replay === 'string' ? { rule: row.rule, message: '', replay: row.replay, trace: [] } : undefined);
    if (v !== undefined) pictures.push(await pictureOf(v, await engineFor(v.replay), row.mutant));
  }
  const view: KillRowView[] = rows.map((r) => ({ mutant: r.mutant, description: r.description, killed: r.killed, cases: r.casesToKill, time: formatMs(r.elapsedMs), rule: r.rule, expectedRule: r.expectedRule }));
  return mutantsPage({ facts: [...(seed === undefined ? [] : [['seed', seed] as const]), ['mutants', String(rows.length)], ['killed', String(rows.filter((r) => r.killed).length)]], rows: view, pictures });
}

/** One case, run here and drawn, failing or not: `prestore replay --html`. */
export async function replayHtml(engine: EngineChoice, c: Case, seed: string, what: string): Promise<string> {
  const picture = await pictureOfCase(engine.factory, c, seed, replayCommand(engine.engineArgs, c, seed));
  return replayPage({ engine: engine.label, facts: [['engine', engine.label], ['replayed from', what], ['seed', seed]], picture });
}

// --- reading a result file -----------------------------------------------------------------------

const RULE_NAMES = new Set<string>(Object.values(RULES));

function fail(name: string, field: string, problem: string): never {
  throw new InputError(`${name}: ${field}: ${problem}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function need(o: Record<string, unknown>, key: string, type: 'string' | 'number' | 'boolean', name: string, at: string, optional = false): void {
  if (o[key] === undefined && optional) return;
  if (typeof o[key] !== type) fail(name, `${at}${key}`, o[key] === undefined ? `missing (a ${type})` : `must be a ${type}, not ${JSON.stringify(o[key])?.slice(0, 40)}`);
}

function checkRule(value: unknown, name: string, field: string, nullable = false): void {
  if (nullable && value === null) return;
  if (typeof value !== 'string' || !RULE_NAMES.has(value)) fail(name, field, `${JSON.stringify(value)?.slice(0, 40)} is not a rule (${[...RULE_NAMES].join(', ')})`);
}

/**
 * A `--json` result, checked as far as the report reads it: a campaign's object or the mutants'
 * array. Fields later versions added (parts, coverage, per-point coverage, crash words) may be
 * missing: older files still make a report, with less in it.
 */
export function parseResult(text: string, name: string): { kind: 'campaign'; result: CampaignResultFile } | { kind: 'mutants'; rows: KillRow[] } {
  const data = parseJson(text, name);
  if (Array.isArray(data)) {
    data.forEach((row, i) => {
      if (!isObject(row)) fail(name, `[${i}]`, 'must be an object (a row of the kill matrix)');
      need(row, 'mutant', 'string', name, `[${i}].`);
      need(row, 'description', 'string', name, `[${i}].`);
      need(row, 'killed', 'boolean', name, `[${i}].`);
      need(row, 'elapsedMs', 'number', name, `[${i}].`);
      need(row, 'expectedRule', 'string', name, `[${i}].`);
      checkRule(row.rule, name, `[${i}].rule`, true);
      if (row.casesToKill !== null) need(row, 'casesToKill', 'number', name, `[${i}].`);
      if (row.replay !== null) need(row, 'replay', 'string', name, `[${i}].`, true);
    });
    return { kind: 'mutants', rows: data as KillRow[] };
  }
  if (!isObject(data)) fail(name, 'the file', 'must be a prestore --json result (an object, or the array prestore mutants writes)');
  if (data.format === 'prestore-counterexample') throw new InputError(`${name}: this is a counterexample file, not a run's result: draw it with prestore replay ${name} --html FILE`);
  for (const key of ['engine', 'seed'] as const) need(data, key, 'string', name, '');
  for (const key of ['cases', 'crashStates', 'distinctCrashStates', 'elapsedMs'] as const) need(data, key, 'number', name, '');
  need(data, 'command', 'string', name, '', true);
  if (!Array.isArray(data.violations)) fail(name, 'violations', 'missing or not an array: not a prestore --json result');
  data.violations.forEach((v, i) => {
    if (!isObject(v)) fail(name, `violations[${i}]`, 'must be an object');
    checkRule(v.rule, name, `violations[${i}].rule`);
    need(v, 'message', 'string', name, `violations[${i}].`);
    need(v, 'replay', 'string', name, `violations[${i}].`);
    need(v, 'scenario', 'string', name, `violations[${i}].`, true);
    if (v.trace !== undefined && !(Array.isArray(v.trace) && v.trace.every((t) => typeof t === 'string'))) fail(name, `violations[${i}].trace`, 'must be an array of strings');
    if (v.crash !== undefined && !(Array.isArray(v.crash) && v.crash.every((t) => typeof t === 'string'))) fail(name, `violations[${i}].crash`, 'must be an array of strings');
  });
  if (data.parts !== undefined && !Array.isArray(data.parts)) fail(name, 'parts', 'must be an array');
  (data.parts as unknown[] | undefined)?.forEach((p, i) => {
    if (!isObject(p)) fail(name, `parts[${i}]`, 'must be an object');
    for (const key of ['kind', 'name'] as const) need(p, key, 'string', name, `parts[${i}].`);
    for (const key of ['cases', 'crashStates', 'distinctCrashStates', 'violations', 'elapsedMs'] as const) need(p, key, 'number', name, `parts[${i}].`);
  });
  if (data.coverage !== undefined && !Array.isArray(data.coverage)) fail(name, 'coverage', 'must be an array');
  (data.coverage as unknown[] | undefined)?.forEach((r, i) => {
    if (!isObject(r)) fail(name, `coverage[${i}]`, 'must be an object');
    for (const key of ['scenario', 'mode'] as const) need(r, key, 'string', name, `coverage[${i}].`);
    for (const key of ['ioPoints', 'crashStates', 'distinctCrashStates', 'enumeratedPoints', 'sampledPoints', 'secondCrashStates'] as const) need(r, key, 'number', name, `coverage[${i}].`);
    const points = r.points;
    if (points === undefined) return;
    if (!isObject(points)) fail(name, `coverage[${i}].points`, 'must be an object');
    for (const key of ['crashStates', 'distinct', 'violations', 'sampled'] as const) {
      const a = points[key];
      if (!Array.isArray(a) || a.length !== r.ioPoints || !a.every((x) => typeof x === 'number' && Number.isFinite(x))) fail(name, `coverage[${i}].points.${key}`, `must be ${String(r.ioPoints)} numbers, one per I/O point`);
    }
  });
  const violations = (data.violations as ResultViolation[]).map((v) => ({ ...v, trace: v.trace ?? [] }));
  return { kind: 'campaign', result: { ...(data as unknown as CampaignResultFile), violations } };
}
