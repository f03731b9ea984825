/**
 * The HTML report, whole: one self-contained file (inline CSS and SVG, no script, nothing
 * fetched: the page forbids it itself), for a campaign run, for `prestore mutants`, and for one
 * replayed case. Pure functions from a view of the data to markup; every string from the data is
 * escaped on its way in.
 */
import type { CoverageRow } from '../harness/campaign.js';
import { RULES, type RuleName } from '../harness/case.js';
import { esc } from './escape.js';
import { coverageFigure, heatmapLegend } from './heatmap.js';
import { COLOURS } from './palette.js';
import { type Picture, type RecordedViolation, ruleNumber } from './picture.js';
import { STYLE } from './style.js';
import type { Crash } from './timeline-data.js';
import { SVG_DEFS, timelineFigure, timelineLegend } from './timeline.js';

/** Facts about a run, in the order a reader wants them: engine, seed, command, version, time. */
export type Facts = readonly (readonly [string, string])[];

export interface PartView {
  readonly name: string;
  readonly cases: number;
  readonly crashStates: number;
  /** Absent where nothing was folded (explore checks every crash state it draws). */
  readonly distinctCrashStates?: number;
  readonly violations: number;
  readonly time: string;
}

export interface RunView {
  readonly command: string;
  readonly engine: string;
  readonly facts: Facts;
  readonly parts: readonly PartView[];
  readonly totals: { readonly cases: number; readonly crashStates: number; readonly distinctCrashStates?: number; readonly violations: number; readonly time: string };
  readonly violationsByRule: Readonly<Record<RuleName, number>>;
  readonly coverage: readonly CoverageRow[];
  /** The violations drawn: the first of each rule in each part (the shrunk ones). */
  readonly pictures: readonly Picture[];
  /** The violations only listed. */
  readonly others: readonly (RecordedViolation & { readonly where?: string })[];
}

export interface KillRowView {
  readonly mutant: string;
  readonly description: string;
  readonly killed: boolean;
  readonly cases: number | null;
  readonly time: string;
  readonly rule: RuleName | null;
  readonly expectedRule: string;
}

export interface MutantsView {
  readonly facts: Facts;
  readonly rows: readonly KillRowView[];
  /** Each killed mutant's violation, drawn. */
  readonly pictures: readonly Picture[];
}

export interface ReplayView {
  readonly engine: string;
  readonly facts: Facts;
  readonly picture: Picture;
}

/** Rows listed beyond the drawn violations; the JSON result has every one. */
export const LISTED_LIMIT = 100;

const n = (value: number) => value.toLocaleString('en-US');
const plural = (count: number, one: string, many = `${one}s`) => `${n(count)} ${count === 1 ? one : many}`;

function page(title: string, body: string): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    // The file is read from disk and may come from anyone's run: it loads nothing and runs nothing.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="generator" content="prestore">',
    `<title>${esc(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    SVG_DEFS,
    `<main>${body}</main>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function facts(list: Facts): string {
  return `<dl class="facts">${list.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`).join('')}</dl>`;
}

function verdict(failed: boolean, words: string): string {
  return `<p class="verdict ${failed ? 'failed' : 'held'}" data-verdict="${failed ? 'failed' : 'held'}">${failed ? '✗' : '✓'} ${esc(words)}</p>`;
}

function table(head: readonly string[], rows: readonly (readonly string[])[], cls = ''): string {
  // A column of text is headed on the left, a column of numbers on the right, as its cells are.
  const text = (i: number) => i === 0 || /^<td class="text"/.test(rows[0]?.[i] ?? '');
  return `<div class="scroll"><table${cls === '' ? '' : ` class="${cls}"`}><thead><tr>${head.map((h, i) => `<th${text(i) ? ' class="text"' : ''}>${h}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.join('')}</tr>`).join('')}</tbody></table></div>`;
}

const td = (text: string, cls = '') => `<td${cls === '' ? '' : ` class="${cls}"`}>${esc(text)}</td>`;
const tdn = (value: number | undefined) => (value === undefined ? td('–') : td(n(value), value === 0 ? 'zero' : ''));

// --- a campaign run ------------------------------------------------------------------------------

export function runPage(v: RunView): string {
  const failed = v.totals.violations > 0;
  const sections = [
    `<h1>prestore ${esc(v.command)}: engine ${esc(v.engine)}</h1>`,
    verdict(failed, failed ? `${plural(v.totals.violations, 'violation')} found` : 'every check held'),
    facts(v.facts),
    nav([
      ['summary', 'Summary'],
      ...(v.pictures.length > 0 ? ([['violations', `Violations drawn (${v.pictures.length})`]] as const) : []),
      ...(v.coverage.length > 0 ? ([['coverage', 'Coverage']] as const) : []),
      ...(v.others.length > 0 ? ([['more-violations', `More violations (${n(v.others.length)})`]] as const) : []),
    ]),
    `<section id="summary"><h2>Summary</h2>${summaryTables(v)}</section>`,
  ];
  if (v.pictures.length > 0) {
    sections.push(
      `<section id="violations"><h2>Violations, drawn</h2><p>The first violation of each rule in each scenario, as shrunk: the earliest crash, the fewest surviving writes and torn sectors that still break the rule. Its replay line re-runs exactly this case.</p>${v.pictures.map((p, i) => pictureArticle(p, i + 1)).join('')}</section>`,
    );
  }
  if (v.coverage.length > 0) sections.push(coverageSection(v.coverage));
  if (v.others.length > 0) sections.push(othersSection(v.others));
  return page(`prestore ${v.command}: ${v.engine}: ${failed ? `${plural(v.totals.violations, 'violation')}` : 'every check held'}`, sections.join('\n'));
}

function nav(links: readonly (readonly [string, string])[]): string {
  return `<nav aria-label="Contents"><ul>${links.map(([id, words]) => `<li><a href="#${id}">${esc(words)}</a></li>`).join('')}</ul></nav>`;
}

function summaryTables(v: RunView): string {
  const parts = table(
    ['', 'cases', 'crash states', 'distinct', 'violations', 'time'],
    [
      ...v.parts.map((p) => [td(p.name, 'text'), tdn(p.cases), tdn(p.crashStates), tdn(p.distinctCrashStates), tdn(p.violations), td(p.time)]),
      ...(v.parts.length > 1 ? [[td('total', 'text'), tdn(v.totals.cases), tdn(v.totals.crashStates), tdn(v.totals.distinctCrashStates), tdn(v.totals.violations), td(v.totals.time)]] : []),
    ],
    'parts',
  );
  const rules = table(
    ['rule', 'violations'],
    Object.entries(RULES).map(([num, rule]) => [td(`${num} ${rule}`, 'text'), tdn(v.violationsByRule[rule] ?? 0)]),
    'rules',
  );
  return `<div class="side-by-side">${parts}${rules}</div>`;
}

function coverageSection(coverage: readonly CoverageRow[]): string {
  const scenarios = [...new Set(coverage.map((r) => r.scenario))];
  const maps = scenarios.map((s) => `<h3>${esc(s)}</h3>${coverageFigure(s, coverage.filter((r) => r.scenario === s))}`).join('');
  const totals = table(
    ['scenario', 'mode', 'I/O points', 'crash states', 'distinct', 'enumerated', 'sampled', '2nd crashes'],
    coverage.map((r) => [td(r.scenario, 'text'), td(r.mode, 'text'), tdn(r.ioPoints), tdn(r.crashStates), tdn(r.distinctCrashStates), tdn(r.enumeratedPoints), tdn(r.sampledPoints), tdn(r.secondCrashStates)]),
    'coverage',
  );
  return (
    `<section id="coverage"><h2>Coverage</h2><p>For each scenario, every I/O point (across) in every cache mode (down): how many crash states a crash there leaves, how many of them were distinct and checked, and how many broke a rule. Enumerated points had every subset of their cached writes checked; hatched points had too many, and a seeded sample was checked.</p>` +
    `${heatmapLegend()}${maps}<h3>Totals per scenario and cache mode</h3>${totals}</section>`
  );
}

function othersSection(others: readonly (RecordedViolation & { readonly where?: string })[]): string {
  const shown = others.slice(0, LISTED_LIMIT);
  const rows = shown.map((o) => [td(`${ruleNumber(o.rule)} ${o.rule}`, 'text'), td(o.where ?? '', 'text'), `<td class="text">${esc(o.message)}<pre class="replay">${esc(o.replay)}</pre></td>`]);
  const more = others.length - shown.length;
  return (
    `<section id="more-violations"><h2>More violations</h2><p>Found as well, not drawn (and not shrunk: each replay line is the crash state as found).</p>${table(['rule', 'where', 'what, and the line that replays it'], rows, 'others')}` +
    (more > 0 ? `<p>… and ${plural(more, 'more violation')}: the JSON result lists every one.</p>` : '') +
    '</section>'
  );
}

// --- one violation ---------------------------------------------------------------------------------

function pictureArticle(p: Picture, index: number): string {
  const v = p.violation;
  const heading = v === undefined ? 'Every check held' : `Rule ${ruleNumber(v.rule)} (${v.rule}) broken${p.where === undefined ? '' : ` in ${p.where}`}`;
  const out = [`<article class="violation" id="violation-${index}" data-rule="${v === undefined ? '' : esc(v.rule)}">`, `<h3>${index}. ${esc(heading)}</h3>`];
  if (v !== undefined) {
    out.push(`<p class="message">${esc(v.message)}</p>`);
    if (v.expected !== undefined || v.actual !== undefined) {
      out.push(
        `<p class="finding">${v.sector === undefined ? '' : `<span>sector ${esc(v.sector)}:</span>`}` +
          `<span>expected <code class="bytes expected">${esc(v.expected ?? '?')}</code></span>` +
          `<span>actual <code class="bytes actual">${esc(v.actual ?? '?')}</code></span></p>`,
      );
    }
  }
  if (p.crashes.length > 0) out.push(`<ul class="crash-words">${p.crashes.map((c) => `<li>${esc(c)}</li>`).join('')}</ul>`);
  if (p.timeline.partial !== undefined) {
    out.push(`<p class="note">Drawn from the last I/O the result file kept, because ${esc(p.timeline.partial)}: the host's operations and writes cached before the first I/O shown are not drawn. The replay line below shows it all.</p>`);
  }
  const failure = v === undefined ? undefined : { label: `rule ${ruleNumber(v.rule)}${v.sector === undefined ? '' : `, sector ${v.sector}`}`, message: v.message };
  const crashes = p.timeline.crashes.map((c) => c.at).join(', ');
  const scrolls = `The picture scrolls sideways${crashes === '' ? '' : `: power is lost at I/O point ${crashes}`}.`;
  out.push(`<figure>${timelineFigure(p.timeline, failure)}<p class="narrow-only">${esc(scrolls)}</p><figcaption>${timelineLegend()}</figcaption></figure>`);
  for (const crash of p.timeline.crashes) out.push(crashTable(crash));
  out.push(`<h4>Replay it</h4><pre class="replay" data-replay>${esc(p.replay)}</pre>`);
  if (p.transcript.length > 0) out.push(`<details><summary>Every step and I/O of the replay, in words</summary><pre class="transcript">${esc(p.transcript.join('\n'))}</pre></details>`);
  out.push('</article>');
  return out.join('\n');
}

/** The writes a crash found cached, each with its sectors: what reached the medium and what did not. */
function crashTable(crash: Crash): string {
  const title = crash.point === undefined ? `What the power loss before I/O point ${crash.at} left (${crash.mode})` : `What the crash at I/O point ${crash.point} left (${crash.mode})`;
  if (crash.cached.length === 0) return `<h4>${esc(title)}</h4><p>No write was cached: the crash lost nothing.</p>`;
  const rows = crash.cached.map((w) => {
    const kept = new Set(w.survived);
    const cells = Array.from({ length: w.sectors }, (_, s) => `<svg width="10" height="14" viewBox="0 0 10 14" aria-hidden="true"><rect x="0.5" y="0.5" width="9" height="13" fill="${kept.has(s) ? COLOURS.survived : 'url(#lost-hatch)'}" stroke="${COLOURS.ink}"/></svg>`).join('');
    const words = kept.size === 0 ? 'lost' : kept.size === w.sectors ? 'survived' : `torn: ${kept.size} of ${w.sectors} sectors survived`;
    const range = w.sectors === 1 ? `${w.sector}` : `${w.sector}–${w.sector + w.sectors - 1}`;
    return [td(`#${w.point} ${w.device} write${w.inFlight ? ' (in flight)' : ''}`, 'text'), td(range), `<td class="text"><span class="cells">${cells}</span>${esc(words)}</td>`];
  });
  return `<h4>${esc(title)}</h4>${table(['cached write', 'sectors', 'at the crash'], rows, 'crash-table')}`;
}

// --- prestore mutants ----------------------------------------------------------------------------

export function mutantsPage(v: MutantsView): string {
  const survived = v.rows.filter((r) => !r.killed).length;
  const ruleHeads = Object.entries(RULES).map(([num, rule]) => `<span class="vertical">${num} ${esc(rule)}</span>`);
  const rows = v.rows.map((r) => {
    const cells = Object.values(RULES).map((rule) => {
      const caught = r.rule === rule;
      const expected = r.expectedRule === rule;
      const mark = caught && expected ? '◉' : caught ? '●' : expected ? '○' : '';
      const words = caught && expected ? 'caught here, as expected' : caught ? 'caught here' : expected ? 'expected here' : '';
      return `<td class="rule"${words === '' ? '' : ` title="${esc(words)}"`} data-rule="${rule}"${caught ? ' data-caught' : ''}${expected ? ' data-expected' : ''}>${mark}</td>`;
    });
    const drawn = v.pictures.findIndex((p) => p.where === r.mutant);
    const status = drawn < 0 ? esc(r.killed ? 'killed' : 'SURVIVED') : `<a href="#violation-${drawn + 1}">killed: see how</a>`;
    return [`<td class="text"><code>${esc(r.mutant)}</code><span class="description">${esc(r.description)}</span></td>`, `<td class="text">${status}</td>`, ...cells, td(r.cases === null ? '–' : n(r.cases)), td(r.time)];
  });
  const matrix = `<div class="scroll"><table class="kill"><thead><tr><th class="text">mutant</th><th class="text"></th>${ruleHeads.map((h) => `<th class="rule">${h}</th>`).join('')}<th>cases</th><th>time</th></tr></thead><tbody>${rows
    .map((cells, i) => `<tr class="${v.rows[i]!.killed ? 'killed' : 'survived'}" data-mutant="${esc(v.rows[i]!.mutant)}">${cells.join('')}</tr>`)
    .join('')}</tbody></table></div>`;
  const key = '<p>● the rule that caught the mutant, ○ the rule expected to catch it, ◉ both.</p>';
  const body = [
    '<h1>prestore mutants: the kill matrix</h1>',
    verdict(survived > 0, survived === 0 ? `every mutant was killed (${v.rows.length})` : `${plural(survived, 'mutant')} survived: the harness has a blind spot`),
    facts(v.facts),
    `<section id="matrix"><h2>Kill matrix</h2>${matrix}${key}</section>`,
  ];
  if (v.pictures.length > 0) body.push(`<section id="violations"><h2>How each mutant was caught</h2>${v.pictures.map((p, i) => pictureArticle(p, i + 1)).join('')}</section>`);
  return page(`prestore mutants: ${v.rows.length - survived} of ${v.rows.length} killed`, body.join('\n'));
}

// --- prestore replay -----------------------------------------------------------------------------

export function replayPage(v: ReplayView): string {
  const failed = v.picture.violation !== undefined;
  const body = [
    `<h1>prestore replay: engine ${esc(v.engine)}</h1>`,
    verdict(failed, failed ? `the case breaks rule ${ruleNumber(v.picture.violation!.rule)} (${v.picture.violation!.rule})` : 'every check held'),
    facts(v.facts),
    pictureArticle(v.picture, 1),
  ];
  return page(`prestore replay: ${v.engine}: ${failed ? v.picture.violation!.rule : 'every check held'}`, body.join('\n'));
}
