/**
 * The report a person reads at the end of a run: each violation with its replay line on a line of
 * its own, a summary table (cases, crash states, violations per rule, time), and the coverage
 * table per scenario and cache mode.
 */
import { RULES, type Violation } from '../harness/case.js';
import { RULE_NUMBER, type RunReport, totals } from './report.js';

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** Lays out rows as columns: the first `left` left-aligned, the rest right-aligned. */
export function table(rows: readonly (readonly string[])[], left = 1, indent = '  '): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => indent + row.map((cell, i) => (i < left ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd());
}

function n(value: number): string {
  return value.toLocaleString('en-US');
}

/** One violation: the rule, the message, the crash, the trace before it, then the replay line alone on its line. */
export function formatViolation(v: Violation, where?: string): string[] {
  const lines = [`VIOLATION of rule ${RULE_NUMBER[v.rule]} (${v.rule})${where === undefined ? '' : ` in ${where}`}: ${v.message}`];
  if (v.expected !== undefined || v.actual !== undefined) lines.push(`  expected ${v.expected ?? '?'}, got ${v.actual ?? '?'}`);
  for (const crash of v.crash ?? []) lines.push(`  ${crash}`);
  if (v.trace.length > 0) lines.push('  the last I/O before it:', ...v.trace.map((t) => `    ${t}`));
  lines.push(`  replay with:`, v.replay);
  return lines;
}

/** Violations printed per campaign; the JSON report has them all. */
export const SHOWN_PER_PART = 5;

/** The violations worth printing: the first of each rule, then the next ones in order. */
export function violationsToShow(violations: readonly Violation[], limit = SHOWN_PER_PART): Violation[] {
  const firsts = new Set<Violation>();
  const rules = new Set<string>();
  for (const v of violations) {
    if (!rules.has(v.rule)) firsts.add(v);
    rules.add(v.rule);
  }
  const picked = new Set([...firsts].slice(0, limit));
  for (const v of violations) if (picked.size < limit) picked.add(v);
  return violations.filter((v) => picked.has(v));
}

export function summaryLines(report: RunReport): string[] {
  const t = totals(report);
  const out: string[] = [];
  const named = report.parts.length > 1 || report.command !== 'explore';
  for (const p of report.parts) {
    const shown = violationsToShow(p.result.violations);
    for (const v of shown) out.push(...formatViolation(v, named ? p.name : undefined), '');
    const hidden = p.result.violations.length - shown.length;
    if (hidden > 0) out.push(`... and ${n(hidden)} more violation${hidden === 1 ? '' : 's'}${named ? ` in ${p.name}` : ''} (--json FILE lists every one)`, '');
  }

  out.push(`prestore ${report.command}: engine ${report.engine}, seed ${report.seed}${report.shard === undefined ? '' : `, shard ${report.shard}`}`);
  if (report.parts.length > 1 || report.parts[0]?.kind === 'exhaust') {
    const rows: string[][] = [['', 'cases', 'crash states', 'distinct', 'violations', 'time']];
    for (const p of report.parts) {
      const distinct = p.result.distinctCrashStates === undefined ? '' : n(p.result.distinctCrashStates);
      rows.push([p.kind === 'explore' ? `explore (${n(p.runs ?? p.result.cases)} runs)` : p.name, n(p.result.cases), n(p.result.crashStates), distinct, n(p.result.violations.length), formatMs(p.elapsedMs)]);
    }
    out.push(...table(rows), '');
  }
  const rows: string[][] = [
    ['cases', n(t.cases)],
    // explore counts no distinct crash states; a run with an explore part has no total of them.
    t.distinctCrashStates === undefined ? ['crash states', n(t.crashStates)] : ['crash states (distinct)', `${n(t.crashStates)} (${n(t.distinctCrashStates)})`],
    ['violations', n(t.violations.length)],
    ...Object.entries(RULES).map(([num, rule]) => [`  ${num} ${rule}`, n(t.violationsByRule[rule])]),
    ['time', formatMs(report.elapsedMs)],
  ];
  out.push(...table(rows));

  if (t.coverage.length > 0) {
    out.push('', 'coverage (per scenario and cache mode)');
    const cov: string[][] = [['scenario', 'mode', 'I/O points', 'crash states', 'distinct', 'enumerated', 'sampled', '2nd crashes']];
    for (const r of t.coverage) cov.push([r.scenario, r.mode, n(r.ioPoints), n(r.crashStates), n(r.distinctCrashStates), n(r.enumeratedPoints), n(r.sampledPoints), n(r.secondCrashStates)]);
    out.push(...table(cov, 2));
    out.push('  (enumerated: crash points whose every survival subset was checked; sampled: a seeded sample)');
  }
  out.push('');
  out.push(t.violations.length === 0 ? 'every check held' : `${n(t.violations.length)} violation${t.violations.length === 1 ? '' : 's'} found`);
  return out;
}
