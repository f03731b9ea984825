/**
 * What a campaign command found, in the three forms it is read in: the JSON result (`--json`),
 * the JUnit report CI systems read (`--junit`), and (in ./summary.ts) the tables a person reads.
 * Each names the engine tested on its first line, so that no report can pass for a run of
 * another engine (`head -1` says what was tested). Report files are written whole or not at all:
 * to a temporary file beside the target, renamed; only ever over a regular file, and checked
 * before the run so that a long run is not lost.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { CacheMode } from '../devices/fault-layer.js';
import type { DeviceProfile } from '../devices/device-profile.js';
import type { CampaignResult, CoverageRow } from '../harness/campaign.js';
import { RULES, type RuleName, type Scenario, type Violation } from '../harness/case.js';
import { InputError, UsageError } from './command.js';
import { distinctFailures } from './failures.js';

/** One campaign of a command run: `explore`, or `exhaust` of one scenario. */
export interface Part {
  readonly kind: 'explore' | 'exhaust';
  /** The scenario's name for exhaust, `explore` for explore. */
  readonly name: string;
  /** The scenario file, for exhaust. */
  readonly file?: string;
  /** explore: the cases asked for. */
  readonly runs?: number;
  readonly result: CampaignResult;
  readonly elapsedMs: number;
}

/**
 * What decides a run's work besides its command, engine and seed: the shards of one run agree on
 * all of it, and `prestore merge` refuses shards that do not.
 */
export interface RunIdentity {
  /** explore's cases (explore, start). */
  readonly runs?: number;
  /** The scenarios exhausted, each by name and a digest of its loaded content (exhaust, start). */
  readonly scenarios?: readonly { readonly name: string; readonly digest: string }[];
  /** exhaust's --depth and --modes, when given (absent: each scenario's own). */
  readonly depth?: 1 | 2;
  readonly modes?: readonly CacheMode[];
  /** --eio: an I/O error at every I/O point too (exhaust, start). */
  readonly eio?: boolean;
  readonly stopOnFirst?: boolean;
  /** --device-profile, when given: the devices every case ran on. */
  readonly deviceProfile?: DeviceProfile;
}

/** The scenarios of a run as its identity names them: each by name and a digest of its content. */
export function scenarioIdentity(scenarios: readonly { readonly scenario: Scenario }[]): RunIdentity['scenarios'] {
  return scenarios.map(({ scenario }) => ({ name: scenario.name, digest: createHash('sha256').update(JSON.stringify(scenario)).digest('hex').slice(0, 16) }));
}

/** A whole command run: one or more parts against one engine with one seed. */
export interface RunReport {
  readonly command: string;
  readonly version: string;
  /** How reports name the engine (`reference`, `mutant:x`, `./engine.js`, `cmd: …`). */
  readonly engine: string;
  /** The engine factory's own name. */
  readonly engineName: string;
  readonly engineArgs: string;
  readonly seed: string;
  /** `i/n` when the run was one shard of a larger one. */
  readonly shard?: string;
  readonly run: RunIdentity;
  /** How many shards `prestore merge` combined into this report. */
  readonly mergedShards?: number;
  readonly parts: readonly Part[];
  readonly elapsedMs: number;
}

/** The first line of every report: the command, the engine tested, the seed. */
export function headline(report: RunReport): string {
  const shard = report.shard === undefined ? '' : `, shard ${report.shard}`;
  const merged = report.mergedShards === undefined ? '' : `, merged from ${report.mergedShards} shard${report.mergedShards === 1 ? '' : 's'}`;
  return `prestore ${report.command}: engine ${report.engine}, seed ${report.seed}${shard}${merged}`;
}

export interface Totals {
  readonly cases: number;
  readonly crashStates: number;
  /** When every part is exhaust's: the crash states left once identical ones are counted once. */
  readonly distinctCrashStates?: number;
  readonly violations: readonly (Violation & { readonly part: string })[];
  readonly violationsByRule: Record<RuleName, number>;
  readonly coverage: readonly CoverageRow[];
}

export const RULE_NUMBER: Readonly<Record<RuleName, number>> = Object.fromEntries(Object.entries(RULES).map(([n, r]) => [r, Number(n)])) as Record<RuleName, number>;

export function totals(report: RunReport): Totals {
  const violationsByRule = Object.fromEntries(Object.values(RULES).map((r) => [r, 0])) as Record<RuleName, number>;
  const violations = report.parts.flatMap((p) => p.result.violations.map((v) => ({ ...v, part: p.name })));
  for (const v of violations) violationsByRule[v.rule] = (violationsByRule[v.rule] ?? 0) + 1;
  return {
    cases: sum(report.parts, (p) => p.result.cases),
    crashStates: sum(report.parts, (p) => p.result.crashStates),
    ...(report.parts.every((p) => p.result.distinctCrashStates !== undefined) ? { distinctCrashStates: sum(report.parts, (p) => p.result.distinctCrashStates!) } : {}),
    violations,
    violationsByRule,
    coverage: report.parts.flatMap((p) => p.result.coverage),
  };
}

function sum<T>(items: readonly T[], f: (t: T) => number): number {
  return items.reduce((s, t) => s + f(t), 0);
}

export function exitCode(report: RunReport): number {
  return totals(report).violations.length > 0 ? 1 : 0;
}

// --- JSON ---------------------------------------------------------------------------------------

/** The JSON result as text: indented, with its first field, the engine, on the first line. */
export function jsonText(result: JsonResult): string {
  return JSON.stringify(result, null, 2).replace(/^\{\n +/, '{ ') + '\n';
}

/** A violation in the JSON result. */
export interface JsonViolation extends Omit<Violation, 'trace'> {
  readonly ruleNumber: number;
  readonly scenario?: string;
  readonly trace: readonly string[];
}

/** The JSON result (`--json`), as `jsonReport` writes it and `prestore report` and `merge` read it. */
export interface JsonResult {
  readonly engine: string;
  readonly seed: string;
  readonly shard?: string;
  readonly cases: number;
  readonly crashStates: number;
  readonly distinctCrashStates?: number;
  readonly violations: readonly JsonViolation[];
  readonly elapsedMs: number;
  readonly ok: boolean;
  readonly command: string;
  readonly tool: 'prestore';
  readonly version: string;
  readonly engineName: string;
  readonly engineArgs: string;
  readonly run: RunIdentity;
  readonly violationsByRule: Record<RuleName, number>;
  readonly parts: readonly { readonly kind: Part['kind']; readonly name: string; readonly file?: string; readonly runs?: number; readonly cases: number; readonly crashStates: number; readonly distinctCrashStates?: number; readonly violations: number; readonly elapsedMs: number }[];
  readonly coverage: readonly CoverageRow[];
  /** How many shards `prestore merge` combined into this result. */
  readonly shards?: number;
}

/** The machine-readable result: the documented fields first (engine … elapsedMs), then the detail. */
export function jsonReport(report: RunReport): JsonResult {
  const t = totals(report);
  return {
    engine: report.engine,
    seed: report.seed,
    ...(report.shard === undefined ? {} : { shard: report.shard }),
    cases: t.cases,
    crashStates: t.crashStates,
    ...(t.distinctCrashStates === undefined ? {} : { distinctCrashStates: t.distinctCrashStates }),
    violations: t.violations.map((v) => ({
      rule: v.rule,
      ruleNumber: RULE_NUMBER[v.rule],
      message: v.message,
      replay: v.replay,
      ...(report.command === 'explore' ? {} : { scenario: v.part }),
      ...(v.sector === undefined ? {} : { sector: v.sector }),
      ...(v.extent === undefined ? {} : { extent: v.extent }),
      ...(v.expected === undefined ? {} : { expected: v.expected }),
      ...(v.actual === undefined ? {} : { actual: v.actual }),
      ...(v.crash === undefined ? {} : { crash: v.crash }),
      trace: v.trace,
    })),
    elapsedMs: round(report.elapsedMs),
    ok: t.violations.length === 0,
    command: report.command,
    tool: 'prestore',
    version: report.version,
    engineName: report.engineName,
    engineArgs: report.engineArgs,
    run: report.run,
    violationsByRule: t.violationsByRule,
    parts: report.parts.map((p) => ({
      kind: p.kind,
      name: p.name,
      ...(p.file === undefined ? {} : { file: p.file }),
      ...(p.runs === undefined ? {} : { runs: p.runs }),
      cases: p.result.cases,
      crashStates: p.result.crashStates,
      ...(p.result.distinctCrashStates === undefined ? {} : { distinctCrashStates: p.result.distinctCrashStates }),
      violations: p.result.violations.length,
      elapsedMs: round(p.elapsedMs),
    })),
    coverage: t.coverage,
    ...(report.mergedShards === undefined ? {} : { shards: report.mergedShards }),
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

// --- JUnit --------------------------------------------------------------------------------------

/** Text safe inside an XML element or attribute: escaped, and without characters XML forbids. */
export function xmlEscape(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;');
}

/** Element text keeps its line breaks readable. */
function xmlText(text: string): string {
  return xmlEscape(text).replace(/&#10;/g, '\n');
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

interface TestCase {
  readonly name: string;
  readonly classname: string;
  readonly ms: number;
  readonly failures: readonly (Violation & { readonly part: string })[];
}

/**
 * JUnit XML: a testsuite per campaign kind of the run; in it one testcase per rule (explore) or
 * per scenario (exhaust), failed with each violation's message and replay line.
 */
export function junitReport(report: RunReport): string {
  const suites: { name: string; ms: number; cases: TestCase[]; props: Record<string, string> }[] = [];
  for (const kind of ['exhaust', 'explore'] as const) {
    const parts = report.parts.filter((p) => p.kind === kind);
    if (parts.length === 0) continue;
    const tag = (p: Part) => p.result.violations.map((v) => ({ ...v, part: p.name }));
    const cases: TestCase[] =
      kind === 'exhaust'
        ? parts.map((p) => ({ name: p.name, classname: `prestore.exhaust`, ms: p.elapsedMs, failures: tag(p) }))
        : Object.entries(RULES).map(([n, rule]) => ({
            name: `rule ${n}: ${rule}`,
            classname: 'prestore.explore',
            ms: 0,
            failures: parts.flatMap(tag).filter((v) => v.rule === rule),
          }));
    const props: Record<string, string> = {
      engine: report.engine,
      engineArgs: report.engineArgs,
      seed: report.seed,
      cases: String(sum(parts, (p) => p.result.cases)),
      crashStates: String(sum(parts, (p) => p.result.crashStates)),
    };
    if (kind === 'exhaust') props.distinctCrashStates = String(sum(parts, (p) => p.result.distinctCrashStates ?? 0));
    if (kind === 'explore') props.runs = String(sum(parts, (p) => p.runs ?? 0));
    suites.push({ name: `prestore ${kind} (engine ${report.engine}, seed ${report.seed})`, ms: sum(parts, (p) => p.elapsedMs), cases, props });
  }
  const count = (f: (c: TestCase) => boolean) => sum(suites, (s) => s.cases.filter(f).length);
  // The root element on the declaration's line: the first line names the engine.
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?><testsuites name="${xmlEscape(headline(report))}" tests="${count(() => true)}" failures="${count((c) => c.failures.length > 0)}" errors="0" time="${seconds(report.elapsedMs)}">`,
  ];
  for (const s of suites) {
    const failed = s.cases.filter((c) => c.failures.length > 0).length;
    lines.push(`  <testsuite name="${xmlEscape(s.name)}" tests="${s.cases.length}" failures="${failed}" errors="0" skipped="0" time="${seconds(s.ms)}">`);
    lines.push('    <properties>');
    for (const [name, value] of Object.entries(s.props)) lines.push(`      <property name="${xmlEscape(name)}" value="${xmlEscape(value)}"/>`);
    lines.push('    </properties>');
    for (const c of s.cases) {
      const open = `    <testcase classname="${xmlEscape(c.classname)}" name="${xmlEscape(c.name)}" time="${seconds(c.ms)}"`;
      if (c.failures.length === 0) {
        lines.push(`${open}/>`);
        continue;
      }
      const first = c.failures[0]!;
      const more = c.failures.length > 1 ? ` (and ${c.failures.length - 1} more)` : '';
      // Each distinct failure once, as the printed report has it: an exhaustive run can find
      // thousands of crash states breaking one rule for one reason.
      const body = distinctFailures([{ name: first.part, violations: c.failures }])
        .map(({ violation: v, alsoSeen }) =>
          [
            `rule ${RULE_NUMBER[v.rule]} ${v.rule}${c.classname === 'prestore.explore' ? '' : ` in ${v.part}`}: ${v.message}`,
            `replay: ${v.replay}`,
            ...(v.trace.length > 0 ? ['trace:', ...v.trace.map((t) => `  ${t}`)] : []),
            ...(alsoSeen > 0 ? [`(${alsoSeen} more crash state${alsoSeen === 1 ? '' : 's'} break${alsoSeen === 1 ? 's' : ''} rule ${RULE_NUMBER[v.rule]} too; the --json result lists every one)`] : []),
          ].join('\n'),
        )
        .join('\n\n');
      lines.push(`${open}>`);
      lines.push(`      <failure message="${xmlEscape(`${first.rule}: ${first.message}${more}`)}" type="${xmlEscape(first.rule)}">${xmlText(body)}</failure>`);
      lines.push('    </testcase>');
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return lines.join('\n') + '\n';
}

// --- writing ------------------------------------------------------------------------------------

/** What a path that exists but is no regular file is, in words. */
function kindOf(s: Stats): string | undefined {
  if (s.isFile()) return undefined;
  if (s.isSymbolicLink()) return 'a symbolic link';
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  return s.isSocket() ? 'a socket' : 'not a regular file';
}

/**
 * Why `target` may not be replaced by a report, if it may not: it exists and is no regular file.
 * A report is written beside it and renamed over it, which would replace a device, a pipe or a
 * symbolic link (as root, `--json /dev/null` would replace the system's /dev/null).
 */
async function notRegular(target: string): Promise<string | undefined> {
  const s = await lstat(target).catch(() => undefined);
  const kind = s === undefined ? undefined : kindOf(s);
  return kind === undefined ? undefined : `is ${kind}, not a regular file; reports replace only regular files (- writes to standard output)`;
}

/** Whether a file can be created in `dir`: the error saying why not, if it cannot. */
export async function cannotCreateIn(dir: string): Promise<string | undefined> {
  const probe = join(dir, `.prestore-probe.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(probe, '', { flag: 'wx' });
  } catch (e) {
    return (e as Error).message;
  }
  await unlink(probe).catch(() => undefined);
  return undefined;
}

/**
 * Checks before a long run that a report file could be written: its directory exists and takes
 * new files, and the name is free or a regular file.
 */
export async function checkReportTarget(flag: string, file: string | undefined, cwd: string): Promise<void> {
  if (file === undefined || file === '-') return;
  if (file === '') throw new UsageError(`--${flag} needs a file name (or - for standard output)`);
  const target = resolve(cwd, file);
  const dir = dirname(target);
  const s = await stat(dir).catch(() => undefined);
  if (s === undefined || !s.isDirectory()) throw new UsageError(`--${flag} ${file}: the directory ${dir} does not exist`);
  const refused = await notRegular(target);
  if (refused !== undefined) throw new UsageError(`--${flag} ${file}: ${refused}`);
  const cannot = await cannotCreateIn(dir);
  if (cannot !== undefined) throw new UsageError(`--${flag} ${file}: cannot write in the directory ${dir}: ${cannot}`);
}

/**
 * Writes `text` to `file` atomically: a temporary file in the same directory, then a rename. A
 * target that is no regular file (it may have become one during the run) is left as it is.
 */
export async function writeAtomically(file: string, text: string, cwd: string): Promise<void> {
  const target = resolve(cwd, file);
  const refused = await notRegular(target);
  if (refused !== undefined) throw new InputError(`cannot write ${file}: it ${refused}`);
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, text, { flag: 'wx' });
    await rename(temp, target);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw new InputError(`cannot write ${file}: ${(e as Error).message}`);
  }
}
