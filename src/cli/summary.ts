/**
 * The report a person reads at the end of a run: each distinct failure once (./failures.ts), with
 * its replay line on a line of its own, then the summary table (cases, crash states, violations
 * per rule, time) and the coverage table per scenario and cache mode, last, where a terminal
 * leaves them in view.
 */
import type { CoverageRow } from '../harness/campaign.js';
import { RULES, type Violation } from '../harness/case.js';
import { distinctFailures } from './failures.js';
import { headline, RULE_NUMBER, type RunReport, totals } from './report.js';

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

/** The totals' I/O-error line, when the run injected them (--eio). */
function ioErrorTotal(coverage: readonly CoverageRow[]): string[][] {
  const rows = coverage.filter((r) => r.ioErrors !== undefined);
  if (rows.length === 0) return [];
  const sum = (f: (r: CoverageRow) => number) => n(rows.reduce((t, r) => t + f(r), 0));
  return [['I/O errors (distinct)', `${sum((r) => r.ioErrors!)} (${sum((r) => r.distinctIoErrors ?? 0)})`]];
}

export function summaryLines(report: RunReport): string[] {
  const t = totals(report);
  const out: string[] = [headline(report), ''];
  const named = report.parts.length > 1 || report.command !== 'explore';
  for (const f of distinctFailures(report.parts.map((p) => ({ name: p.name, violations: p.result.violations })))) {
    const where = named ? f.where.join(', ') : undefined;
    out.push(...formatViolation(f.violation, where));
    if (f.alsoSeen > 0) out.push(`  (${n(f.alsoSeen)} more crash state${f.alsoSeen === 1 ? '' : 's'}${where === undefined ? '' : ` in ${where}`} break${f.alsoSeen === 1 ? 's' : ''} rule ${RULE_NUMBER[f.violation.rule]} too; --json FILE lists every one)`);
    out.push('');
  }
  // Said again above the tables when failures came between, so the tables name their engine too.
  if (out.length > 2) out.push(headline(report));

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
    ...ioErrorTotal(t.coverage),
    ['violations', n(t.violations.length)],
    ...Object.entries(RULES).map(([num, rule]) => [`  ${num} ${rule}`, n(t.violationsByRule[rule])]),
    ['time', formatMs(report.elapsedMs)],
  ];
  out.push(...table(rows));

  if (t.coverage.length > 0) {
    out.push('', 'coverage (per scenario and cache mode)');
    const eio = t.coverage.some((r) => r.ioErrors !== undefined);
    const afterEio = t.coverage.some((r) => (r.crashesAfterIoError ?? 0) > 0);
    const cov: string[][] = [['scenario', 'mode', 'I/O points', 'crash states', 'distinct', 'enumerated', 'sampled', '2nd crashes', ...(eio ? ['I/O errors (distinct)'] : []), ...(afterEio ? ['after EIO'] : [])]];
    for (const r of t.coverage) {
      const errors = r.ioErrors === undefined ? '' : `${n(r.ioErrors)} (${n(r.distinctIoErrors ?? 0)})`;
      cov.push([r.scenario, r.mode, n(r.ioPoints), n(r.crashStates), n(r.distinctCrashStates), n(r.enumeratedPoints), n(r.sampledPoints), n(r.secondCrashStates), ...(eio ? [errors] : []), ...(afterEio ? [n(r.crashesAfterIoError ?? 0)] : [])]);
    }
    out.push(...table(cov, 2));
    out.push('  (enumerated: crash points whose every survival subset was checked; sampled: a seeded sample)');
    for (const r of t.coverage.filter((row, i, all) => row.completionOrders !== undefined && all.findIndex((x) => x.scenario === row.scenario) === i)) {
      const { tried, all } = r.completionOrders!;
      out.push(`  ${r.scenario}: operations in flight, ${n(tried)} completion order${tried === 1 ? '' : 's'} tried (${all ? 'every one there is' : 'a bounded search: more exist'}), one seeded crash state per point, order and mode${r.ioErrors === undefined ? '' : '; an I/O error at every I/O point of each order, no crash after it'}`);
    }
    if (eio) out.push('  (I/O errors: one transient and one sticky at every I/O point, per scenario; distinct: those run, a sticky one no read reaches being its transient twin)');
    if (afterEio) out.push('  (after EIO: distinct crash states at the I/O points after an I/O error, depth 2)');
  }
  out.push('');
  out.push(t.violations.length === 0 ? 'every check held' : `${n(t.violations.length)} violation${t.violations.length === 1 ? '' : 's'} found`);
  return out;
}
