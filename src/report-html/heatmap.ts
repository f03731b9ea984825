/**
 * Where in a workload the crash states lie: for one scenario, a grid of I/O point (across) by
 * cache mode (down), drawn three times, shaded by the crash states at each point, the distinct
 * ones among them (each checked once), and the violations found there. Points whose survival
 * subsets were too many to enumerate, and so were sampled, are hatched in all three.
 */
import type { CoverageRow, PointCoverage } from '../harness/campaign.js';
import { esc, num } from './escape.js';
import { BLUES, binLabel, binOf, BIN_FLOORS, ORANGES } from './palette.js';

const CELL_H = 16;
const LEFT = 64;
const TITLE_H = 20;
const AXIS_H = 14;
const BLOCK_GAP = 12;

type Metric = 'crashStates' | 'distinct' | 'violations';

const METRICS: readonly { metric: Metric; title: string; ramp: readonly string[] }[] = [
  { metric: 'crashStates', title: 'crash states at the point', ramp: BLUES },
  { metric: 'distinct', title: 'distinct crash states checked', ramp: BLUES },
  { metric: 'violations', title: 'violations found', ramp: ORANGES },
];

/** One scenario's coverage: the heat map when the rows carry per-point counts, else a note. */
export function coverageFigure(scenario: string, rows: readonly CoverageRow[]): string {
  const complete = rows.filter((r): r is CoverageRow & { points: PointCoverage } => r.points !== undefined);
  if (complete.length === 0 || complete.length < rows.length) {
    return `<p class="note">The per-I/O-point coverage of ${esc(scenario)} is not in this result file (it was written by an older prestore); the table below has the totals.</p>`;
  }
  return `<div class="scroll">${heatmapSvg(scenario, complete)}</div>`;
}

function heatmapSvg(scenario: string, rows: readonly (CoverageRow & { points: PointCoverage })[]): string {
  const points = Math.max(...rows.map((r) => r.ioPoints));
  // Few points get wide cells; many get narrow ones and the map scrolls.
  const cellW = Math.max(12, Math.min(26, Math.floor(900 / Math.max(1, points))));
  const blockH = TITLE_H + AXIS_H + rows.length * CELL_H;
  const width = LEFT + points * cellW + 8;
  const height = METRICS.length * (blockH + BLOCK_GAP);
  const out = [`<svg class="heatmap" width="${num(width)}" height="${num(height)}" viewBox="0 0 ${num(width)} ${num(height)}" role="img" aria-label="${esc(`Coverage of ${scenario} by I/O point and cache mode`)}">`];
  METRICS.forEach(({ metric, title, ramp }, b) => {
    const top = b * (blockH + BLOCK_GAP);
    out.push(`<text class="heat-title" x="0" y="${top + 14}">${esc(title)}</text><text class="heat-tick" x="${LEFT - 6}" y="${top + TITLE_H + 10}" text-anchor="end">I/O point</text>`);
    for (let p = 0; p < points; p += 5) out.push(`<text class="heat-tick" x="${num(LEFT + p * cellW + cellW / 2)}" y="${top + TITLE_H + 10}" text-anchor="middle">${p}</text>`);
    rows.forEach((row, r) => {
      const y = top + TITLE_H + AXIS_H + r * CELL_H;
      out.push(`<text class="heat-mode" x="${LEFT - 6}" y="${y + 12}" text-anchor="end">${esc(row.mode)}</text>`);
      for (let p = 0; p < row.ioPoints; p++) {
        const value = row.points[metric][p] ?? 0;
        const bin = binOf(value);
        const sampled = row.points.sampled[p] === 1;
        const x = LEFT + p * cellW;
        const words = `I/O point ${p}, ${row.mode}: ${row.points.crashStates[p] ?? 0} crash states, ${row.points.distinct[p] ?? 0} distinct, ${row.points.violations[p] ?? 0} violations${sampled ? ', survival subsets sampled' : ', every survival subset enumerated'}`;
        out.push(
          `<rect class="cell" data-metric="${metric}" data-mode="${esc(row.mode)}" data-point="${p}" data-value="${value}" x="${x}" y="${y}" width="${cellW - 1}" height="${CELL_H - 1}" fill="${bin === undefined ? '#FFFFFF' : ramp[bin]}" stroke="#BBBBBB" stroke-width="0.5"><title>${esc(words)}</title></rect>`,
        );
        if (sampled) out.push(`<rect class="sampled" data-point="${p}" x="${x}" y="${y}" width="${cellW - 1}" height="${CELL_H - 1}" fill="url(#sampled-hatch)" pointer-events="none"/>`);
      }
    });
  });
  out.push('</svg>');
  return out.join('');
}

/** The key to the heat maps' shades and hatching. */
export function heatmapLegend(): string {
  const swatch = (fill: string, extra = '') => `<svg class="swatch" width="16" height="16" viewBox="0 0 16 16" aria-hidden="true"><rect x="1" y="1" width="14" height="14" fill="${fill}" stroke="#BBBBBB"/>${extra}</svg>`;
  const ramp = (colours: readonly string[]) => BIN_FLOORS.map((_, bin) => `<li>${swatch(colours[bin]!)}${binLabel(bin)}</li>`).join('');
  return (
    `<ul class="legend heat-legend"><li>${swatch('#FFFFFF')}none</li>${ramp(BLUES)}<li class="legend-gap">crash states</li></ul>` +
    `<ul class="legend heat-legend"><li>${swatch('#FFFFFF')}none</li>${ramp(ORANGES)}<li class="legend-gap">violations</li>` +
    `<li>${swatch('#FFFFFF', '<rect x="1" y="1" width="14" height="14" fill="url(#sampled-hatch)"/>')}hatched: too many survival subsets to enumerate, a seeded sample was checked</li></ul>`
  );
}
