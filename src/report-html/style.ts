/**
 * The page's one stylesheet, inline. Narrow screens get one column and pictures that scroll
 * sideways beside fixed lane names; print gets pictures scaled to the page, lane names placed by
 * percentage so they stay beside their lanes, and colours printed as they are (every colour has
 * a lightness of its own and a shape beside it, so grey print keeps the meaning).
 */
import { COLOURS } from './palette.js';

export const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: ${COLOURS.ink}; background: #FFFFFF; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
main { max-width: 1200px; margin: 0 auto; padding: 12px 16px 48px; }
h1 { font-size: 1.45rem; margin: .5rem 0 .25rem; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin: 2rem 0 .6rem; padding-bottom: .2rem; border-bottom: 2px solid ${COLOURS.ink}; }
h3 { font-size: 1.05rem; margin: 1.6rem 0 .3rem; overflow-wrap: anywhere; }
h4 { font-size: .95rem; margin: 1rem 0 .3rem; }
p, li { overflow-wrap: anywhere; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 13px; }
nav ul { list-style: none; padding: 0; margin: .4rem 0; display: flex; flex-wrap: wrap; gap: .2rem 1rem; }
a { color: #0B5394; }
.facts { display: flex; flex-wrap: wrap; gap: .1rem 1.2rem; margin: .5rem 0; }
.facts div { display: flex; gap: .4rem; min-width: 0; }
.facts dt { font-weight: 600; }
.facts dd { margin: 0; overflow-wrap: anywhere; }
.side-by-side { display: flex; flex-wrap: wrap; gap: 0 2.5rem; align-items: flex-start; }
.verdict { margin: .6rem 0; padding: .45rem .7rem; border: 3px solid; border-radius: 4px; font-weight: 700; }
.verdict.failed { border-color: ${COLOURS.crash}; }
.verdict.held { border-color: ${COLOURS.survived}; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: .3rem 0; font-variant-numeric: tabular-nums; }
th, td { padding: .2rem .55rem; border-bottom: 1px solid #CCCCCC; text-align: right; vertical-align: top; }
th { border-bottom: 2px solid ${COLOURS.ink}; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
td.zero { color: #777777; }
.violation { border-top: 1px solid #CCCCCC; margin-top: 1.5rem; }
.message { font-size: 1rem; margin: .2rem 0 .5rem; }
.finding { display: flex; flex-wrap: wrap; gap: .4rem .8rem; align-items: baseline; margin: .4rem 0; }
.bytes { display: inline-block; padding: .05rem .4rem; border: 2px solid ${COLOURS.ink}; border-radius: 3px; }
.bytes.actual { border-style: dashed; border-color: ${COLOURS.crash}; }
.crash-words { margin: .3rem 0; padding-left: 1.2rem; }
.note { border-left: 4px solid ${COLOURS.host}; padding: .3rem .6rem; background: #FFF8E6; }
figure { margin: .6rem 0; }
.timeline { display: flex; align-items: stretch; border: 1px solid #BBBBBB; background: #FFFFFF; }
.lane-labels { position: relative; flex: 0 0 86px; border-right: 1px solid #BBBBBB; }
.lane-label { position: absolute; left: 0; right: 0; top: var(--top); height: var(--h); padding: 0 6px; display: flex; flex-direction: column; justify-content: center; font-size: 12px; font-weight: 650; line-height: 1.15; }
.lane-label .sectors { font-size: 10px; font-weight: 400; color: #555555; white-space: nowrap; }
.axis-label { font-weight: 400; font-size: 10px; color: #555555; }
.timeline .scroll { flex: 1 1 auto; min-width: 0; }
svg { display: block; }
svg text { font: 11px ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; fill: ${COLOURS.ink}; }
svg .tick-crash { font-weight: 700; }
svg .fail-text { font-weight: 700; font-size: 12px; }
svg .survival-text { font-size: 10px; font-weight: 700; paint-order: stroke; stroke: #FFFFFF; stroke-width: 3px; stroke-linejoin: round; }
svg .heat-title { font: 600 12px system-ui, sans-serif; }
svg.defs { position: absolute; width: 0; height: 0; overflow: hidden; }
.legend { list-style: none; padding: 0; margin: .4rem 0; display: flex; flex-wrap: wrap; gap: .2rem 1rem; font-size: 13px; }
.legend li { display: flex; align-items: center; gap: .3rem; }
.legend .swatch { flex: none; }
.legend-gap { margin-right: 1rem; font-weight: 600; }
.replay { margin: .3rem 0; padding: .5rem .6rem; background: #F4F4F4; border: 1px solid #BBBBBB; white-space: pre-wrap; word-break: break-all; -webkit-user-select: all; user-select: all; }
.transcript { max-height: 32rem; overflow: auto; padding: .5rem; background: #F8F8F8; border: 1px solid #DDDDDD; }
.cells { display: inline-flex; gap: 1px; vertical-align: middle; margin-right: .3rem; }
.kill th { vertical-align: bottom; }
.kill th.rule { text-align: center; vertical-align: bottom; padding: .3rem .15rem; font-weight: 600; }
.kill .vertical { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; font-size: 12px; }
.kill td.rule { text-align: center; font-size: 1.1rem; border-left: 1px solid #DDDDDD; min-width: 1.8rem; }
.kill .description { display: block; font-size: 12px; color: #444444; max-width: 34rem; }
.kill tr.survived td { background: #FFF0E6; }
.narrow-only { display: none; }
@media (max-width: 600px) {
  .narrow-only { display: block; margin: .2rem 0; font-size: 12px; color: #555555; }
  main { padding: 8px 10px 32px; }
  body { font-size: 14px; }
  .lane-labels { flex-basis: 52px; }
  .lane-label { padding: 0 3px; font-size: 11px; }
  .lane-label .sectors { display: none; }
}
@media print {
  main { max-width: none; padding: 0; }
  nav, details { display: none; }
  .scroll { overflow: visible; }
  .timeline-svg, .heatmap { max-width: 100%; height: auto; }
  .lane-label { top: var(--top-p); height: var(--h-p); }
  .violation, figure, table { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
`;
