/**
 * A violation as a picture: one column per I/O point, one lane for the host's operations and
 * one per device with its sectors top to bottom. Reads are pale boxes, writes solid, FUA writes
 * flagged, flushes black bars across their lane (a barrier: what was cached before is durable
 * after). The crash is a dashed line across every lane; the writes cached at it are drawn sector
 * by sector, solid where the sector reached the medium and hatched where it was lost. The
 * recovery's stretch is a pale band, and the check that failed stands where the run stopped.
 */
import type { DeviceName } from '../devices/fault-layer.js';
import { esc, num } from './escape.js';
import { COLOURS } from './palette.js';
import type { CachedWrite, Crash, Io, Step, Timeline } from './timeline-data.js';

const AXIS = 26;
const HOST = 34;
const GAP = 6;
const LEFT = 4;
const FAIL_WIDTH = 150;
const LANES: readonly DeviceName[] = ['source', 'clone', 'meta'];

interface Lane {
  readonly name: 'host' | DeviceName;
  readonly y: number;
  readonly height: number;
  /** Pixels per sector (device lanes). */
  readonly cell: number;
}

export interface Layout {
  readonly first: number;
  readonly width: number;
  readonly height: number;
  readonly lanes: readonly Lane[];
  /** The width of one I/O point's column. */
  readonly col: number;
  /** The left edge of the column of I/O point `point`. */
  readonly x: (point: number) => number;
}

export function layoutOf(t: Timeline): Layout {
  const first = Math.min(t.end, ...t.ios.map((io) => io.point), ...t.crashes.map((c) => c.at));
  // A short run gets wide columns, so its marks and labels are easy to see; a long one scrolls.
  const col = Math.max(22, Math.min(40, Math.floor(960 / Math.max(1, t.end - first))));
  const lanes: Lane[] = [{ name: 'host', y: AXIS, height: HOST, cell: 0 }];
  let y = AXIS + HOST + GAP;
  for (const name of LANES) {
    const sectors = t.sectors[name];
    // Small volumes get tall sectors (a torn write is visible sector by sector); large ones fit.
    const cell = Math.max(4, Math.min(14, Math.floor(160 / sectors)));
    const height = sectors * cell + 8;
    lanes.push({ name, y, height, cell });
    y += height + GAP;
  }
  const x = (point: number) => LEFT + (point - first) * col;
  return { first, width: x(t.end) + FAIL_WIDTH, height: y, lanes, col, x };
}

/** How the failed check is named where the run stopped, e.g. `rule 2` and its message. */
export interface Failure {
  readonly label: string;
  readonly message: string;
}

/** The timeline as HTML: lane names in a column of their own, the picture scrolling beside them. */
export function timelineFigure(t: Timeline, failure: Failure | undefined): string {
  const layout = layoutOf(t);
  // Placed in pixels on screen, and in percentages in print, where the picture is scaled to the page.
  const place = (y: number, h: number) => `--top:${y}px;--h:${h}px;--top-p:${num((100 * y) / layout.height)}%;--h-p:${num((100 * h) / layout.height)}%`;
  const labels = layout.lanes
    .map((lane) => {
      const sectors = lane.name === 'host' ? '' : `<span class="sectors">${t.sectors[lane.name] === 1 ? 'sector 0' : `sectors 0–${t.sectors[lane.name] - 1} ↓`}</span>`;
      return `<div class="lane-label" data-lane="${lane.name}" style="${place(lane.y, lane.height)}">${lane.name}${sectors}</div>`;
    })
    .join('');
  return (
    `<div class="timeline"><div class="lane-labels"><div class="lane-label axis-label" style="${place(0, AXIS)}">I/O point</div>${labels}</div>` +
    `<div class="scroll">${timelineSvg(t, layout, failure)}</div></div>`
  );
}

function timelineSvg(t: Timeline, layout: Layout, failure: Failure | undefined): string {
  const { x, lanes, width, height } = layout;
  const cachedAt = new Map<number, { crash: Crash; write: CachedWrite }>();
  for (const crash of t.crashes) for (const write of crash.cached) cachedAt.set(write.point, { crash, write });
  const laneOf = (name: string) => lanes.find((l) => l.name === name)!;
  const out: string[] = [];
  const survivors = t.crashes.reduce((n, c) => n + c.cached.filter((w) => w.survived.length > 0).length, 0);
  const cachedCount = t.crashes.reduce((n, c) => n + c.cached.length, 0);
  const summary = `Timeline of I/O points ${layout.first} to ${t.end - 1}` + t.crashes.map((c) => `; power lost ${c.point === undefined ? `before I/O point ${c.at}` : `at I/O point ${c.point}`}`).join('') + (cachedCount > 0 ? `; ${survivors} of ${cachedCount} cached writes survived` : '');
  out.push(`<svg class="timeline-svg" width="${num(width)}" height="${num(height)}" viewBox="0 0 ${num(width)} ${num(height)}" role="img" aria-label="${esc(summary)}">`);

  for (const lane of lanes) out.push(`<rect class="lane lane-${lane.name}" data-lane="${lane.name}" x="0" y="${lane.y}" width="${num(x(t.end))}" height="${lane.height}" fill="${COLOURS.lane}"/>`);
  out.push(axis(t, layout));
  for (const step of t.steps) if (step.kind === 'recovery') out.push(recoveryBand(step, layout));
  for (const step of t.steps) out.push(hostStep(step, layout));
  // The crash line goes under the marks, so the write in flight at it stays visible.
  for (const crash of t.crashes) out.push(crashLine(crash, layout));
  for (const io of t.ios) {
    const lane = laneOf(io.device);
    const cached = cachedAt.get(io.point);
    out.push(cached !== undefined && io.op === 'write' ? cachedWriteMark(io, cached.write, cached.crash, lane, layout) : ioMark(io, lane, layout));
  }
  if (failure !== undefined) out.push(failureMark(t.end, failure, laneOf('host'), layout));
  out.push('</svg>');
  return out.join('');
}

function axis(t: Timeline, { x, first, col }: Layout): string {
  const crashPoints = t.crashes.map((c) => c.at);
  // Labels are about three characters wide: a regular one next to a crash's would collide.
  const clear = Math.ceil(24 / col);
  const out: string[] = [];
  for (let p = first; p < t.end; p++) {
    const cx = x(p) + col / 2;
    const crash = crashPoints.includes(p);
    const regular = ((p - first) % 5 === 0 || p === t.end - 1) && !crashPoints.some((c) => c !== p && Math.abs(c - p) < clear);
    out.push(`<line x1="${num(cx)}" x2="${num(cx)}" y1="${AXIS - 5}" y2="${AXIS - 1}" stroke="#888"/>`);
    if (crash || regular) {
      out.push(`<text class="tick${crash ? ' tick-crash' : ''}" data-tick="${p}" x="${num(cx)}" y="${AXIS - 9}" text-anchor="middle">${p}</text>`);
    }
  }
  return out.join('');
}

function recoveryBand(step: Step, { x, height }: Layout): string {
  const w = Math.max(2, x(step.to) - x(step.from));
  return `<rect class="recovery-band" x="${num(x(step.from))}" y="${AXIS}" width="${num(w)}" height="${num(height - AXIS - GAP)}" fill="${COLOURS.recovery}" fill-opacity="0.45"><title>${esc(`I/O points ${step.from}–${step.to - 1}: ${step.text}`)}</title></rect>`;
}

const STEP_FILL: Record<Step['kind'], string | undefined> = { open: COLOURS.quiet, host: COLOURS.host, step: COLOURS.quiet, recovery: COLOURS.recovery, check: COLOURS.check, power: undefined, event: undefined };

/** What a step is called in its bar; the whole note is its tooltip. */
export function stepLabel(step: Step): string {
  switch (step.kind) {
    case 'open':
      return 'open';
    case 'step':
      return step.count > 1 ? `step ×${step.count}` : 'step';
    case 'recovery':
      return 'recovery';
    default:
      return step.text.replace(/^(host|check): /, '').replace(/ sectors /, ' ').replace(/\{ protect: (true|false) \}/, (_, p: string) => (p === 'true' ? 'protected' : 'unprotected'));
  }
}

function hostStep(step: Step, { x, lanes }: Layout): string {
  const fill = STEP_FILL[step.kind];
  if (fill === undefined) return '';
  const lane = lanes[0]!;
  const x0 = x(step.from) + 1;
  const w = Math.max(3, x(step.to) - x(step.from) - 2);
  const label = clip(stepLabel(step), w - 6);
  const title = step.count > 1 ? `${step.text} ×${step.count}` : step.text;
  return (
    `<g class="step step-${step.kind}" data-from="${step.from}" data-to="${step.to}"><rect x="${num(x0)}" y="${lane.y + 5}" width="${num(w)}" height="${lane.height - 10}" rx="3" fill="${fill}"/>` +
    (label === '' ? '' : `<text x="${num(x0 + 3)}" y="${lane.y + lane.height / 2 + 4}" class="step-text">${esc(label)}</text>`) +
    `<title>${esc(`I/O points ${step.from}–${Math.max(step.from, step.to - 1)}: ${title}`)}</title></g>`
  );
}

/** Text cut to fit `width` pixels of the 11 px monospace the bars use (6.7 px a character). */
function clip(text: string, width: number): string {
  const fits = Math.floor(width / 6.7);
  if (fits < 2) return '';
  return text.length <= fits ? text : `${text.slice(0, fits - 1)}…`;
}

function markBox(io: Io, lane: Lane, { x, col }: Layout): { x: number; y: number; w: number; h: number } {
  return { x: x(io.point) + 3, y: lane.y + 4 + io.sector * lane.cell, w: col - 6, h: Math.max(3, io.sectors * lane.cell) };
}

function ioWords(io: Io): string {
  const range = io.op === 'flush' ? '' : io.sectors === 1 ? ` sector ${io.sector}` : ` sectors ${io.sector}–${io.sector + io.sectors - 1}`;
  const outcome = io.outcome === 'eio' ? ': I/O error' : io.outcome === 'crash' ? ': power lost during it' : '';
  return `#${io.point} ${io.device} ${io.op}${io.fua ? ' (FUA)' : ''}${range}${outcome}`;
}

function ioMark(io: Io, lane: Lane, layout: Layout): string {
  const attrs = `class="io io-${io.op}${io.fua ? ' io-fua' : ''} io-${io.outcome}" data-point="${io.point}" data-device="${io.device}" data-op="${io.op}"`;
  const title = `<title>${esc(ioWords(io))}</title>`;
  if (io.op === 'flush') {
    const cx = layout.x(io.point) + layout.col / 2;
    return `<rect ${attrs} x="${num(cx - 2)}" y="${lane.y + 1}" width="4" height="${lane.height - 2}" fill="${COLOURS.barrier}">${title}</rect>`;
  }
  const b = markBox(io, lane, layout);
  const box = `x="${num(b.x)}" y="${num(b.y)}" width="${num(b.w)}" height="${num(b.h)}"`;
  if (io.outcome === 'eio') return `<rect ${attrs} ${box} fill="#FFFFFF" stroke="${COLOURS.ink}" stroke-dasharray="2 2">${title}</rect>`;
  const fill = io.op === 'read' ? `fill="${COLOURS.readFill}" stroke="${COLOURS.read}"` : `fill="${COLOURS.write}"`;
  const crashed = io.outcome === 'crash' ? ` stroke="${COLOURS.crash}" stroke-width="2"` : '';
  return `<g ${attrs}><rect ${box} ${fill}${crashed}/>${io.fua ? fuaFlag(b) : ''}${title}</g>`;
}

/** FUA: a black corner flag on the write. */
function fuaFlag(b: { x: number; y: number; w: number }): string {
  const right = b.x + b.w;
  return `<path class="fua-flag" d="M${num(right - 8)} ${num(b.y)}H${num(right)}V${num(b.y + 8)}Z" fill="${COLOURS.barrier}"/>`;
}

/** A write cached at a crash: a cell per sector, solid if it reached the medium, hatched if lost. */
function cachedWriteMark(io: Io, write: CachedWrite, crash: Crash, lane: Lane, layout: Layout): string {
  const b = markBox(io, lane, layout);
  const kept = new Set(write.survived);
  const survival = kept.size === 0 ? 'lost' : kept.size === write.sectors ? 'survived' : 'torn';
  const cells: string[] = [];
  for (let s = 0; s < write.sectors; s++) {
    const y = b.y + (s * b.h) / write.sectors;
    const h = b.h / write.sectors;
    cells.push(`<rect class="sector ${kept.has(s) ? 'sector-survived' : 'sector-lost'}" data-sector="${write.sector + s}" x="${num(b.x)}" y="${num(y)}" width="${num(b.w)}" height="${num(h)}" fill="${kept.has(s) ? COLOURS.survived : 'url(#lost-hatch)'}"/>`);
  }
  const sectorsWord = survival === 'torn' ? `torn: sectors ${[...kept].map((s) => write.sector + s).join(', ')} survived, the rest were lost` : survival;
  const at = crash.point === undefined ? `the power loss before #${crash.at}` : `the crash at #${crash.point}`;
  const title = `${ioWords(io)}${write.inFlight ? ' (in flight)' : ''}: cached at ${at}, ${sectorsWord}`;
  return (
    `<g class="io io-write cached${io.fua ? ' io-fua' : ''}" data-point="${io.point}" data-device="${io.device}" data-op="write" data-survival="${survival}" data-crash="${crash.at}">` +
    cells.join('') +
    `<rect x="${num(b.x)}" y="${num(b.y)}" width="${num(b.w)}" height="${num(b.h)}" fill="none" stroke="${COLOURS.ink}" stroke-width="1.5"${write.inFlight ? ' stroke-dasharray="3 2"' : ''}/>` +
    (io.fua ? fuaFlag(b) : '') +
    // Named in words too, under the write: colour and hatching are not the only telling.
    `<text class="survival-text" x="${num(b.x + b.w / 2)}" y="${num(b.y + b.h + 11 > lane.y + lane.height && b.y - 12 >= lane.y ? b.y - 3 : b.y + b.h + 11)}" text-anchor="middle">${survival}</text>` +
    `<title>${esc(title)}</title></g>`
  );
}

function crashLine(crash: Crash, { x, height, col }: Layout): string {
  const cx = crash.point === undefined ? x(crash.at) : x(crash.at) + col / 2;
  const kept = crash.cached.filter((w) => w.survived.length > 0).length;
  const words = `${crash.point === undefined ? `power lost between operations, before I/O point ${crash.at}` : `power lost at I/O point ${crash.point}`} (${crash.mode}): ${kept} of ${crash.cached.length} cached write${crash.cached.length === 1 ? '' : 's'} survived`;
  return (
    `<g class="crash" data-point="${crash.at}"><line class="crash-line" data-point="${crash.at}" x1="${num(cx)}" x2="${num(cx)}" y1="2" y2="${num(height - GAP / 2)}" stroke="${COLOURS.crash}" stroke-width="3" stroke-dasharray="7 4"/>` +
    `<path d="M${num(cx - 5)} 2H${num(cx + 5)}L${num(cx)} 9Z" fill="${COLOURS.crash}"/><title>${esc(words)}</title></g>`
  );
}

function failureMark(end: number, failure: Failure, host: Lane, { x }: Layout): string {
  const x0 = x(end) + 4;
  return (
    `<g class="failed-check" data-point="${end}"><rect x="${num(x0)}" y="${host.y + 4}" width="${FAIL_WIDTH - 10}" height="${host.height - 8}" rx="4" fill="#FFFFFF" stroke="${COLOURS.crash}" stroke-width="2.5"/>` +
    `<text x="${num(x0 + 8)}" y="${host.y + host.height / 2 + 4}" class="fail-text">✗ ${esc(failure.label)}</text><title>${esc(`the check that failed, after the last I/O: ${failure.message}`)}</title></g>`
  );
}

/** The key to the picture, drawn with the same marks. */
export function timelineLegend(): string {
  const sw = (inner: string) => `<svg class="swatch" width="26" height="18" viewBox="0 0 26 18" aria-hidden="true">${inner}</svg>`;
  const items: [string, string][] = [
    [sw(`<rect x="6" y="3" width="14" height="12" fill="${COLOURS.readFill}" stroke="${COLOURS.read}"/>`), 'read'],
    [sw(`<rect x="6" y="3" width="14" height="12" fill="${COLOURS.write}"/>`), 'write'],
    [sw(`<rect x="6" y="3" width="14" height="12" fill="${COLOURS.write}"/><path d="M12 3H20V11Z" fill="${COLOURS.barrier}"/>`), 'FUA write (flag)'],
    [sw(`<rect x="11" y="1" width="4" height="16" fill="${COLOURS.barrier}"/>`), 'flush: a barrier'],
    [sw(`<rect x="6" y="3" width="14" height="12" fill="${COLOURS.survived}" stroke="${COLOURS.ink}" stroke-width="1.5"/>`), 'cached at the crash, survived'],
    [sw(`<rect x="6" y="3" width="14" height="12" fill="url(#lost-hatch)" stroke="${COLOURS.ink}" stroke-width="1.5"/>`), 'cached at the crash, lost'],
    [sw(`<rect x="6" y="3" width="14" height="6" fill="${COLOURS.survived}"/><rect x="6" y="9" width="14" height="6" fill="url(#lost-hatch)"/><rect x="6" y="3" width="14" height="12" fill="none" stroke="${COLOURS.ink}" stroke-width="1.5"/>`), 'torn: one cell per sector'],
    [sw(`<rect x="6" y="3" width="14" height="12" fill="none" stroke="${COLOURS.ink}" stroke-width="1.5" stroke-dasharray="3 2"/>`), 'in flight (dashed outline)'],
    [sw(`<line x1="13" x2="13" y1="0" y2="18" stroke="${COLOURS.crash}" stroke-width="3" stroke-dasharray="7 4"/>`), 'power lost'],
    [sw(`<rect x="0" y="0" width="26" height="18" fill="${COLOURS.recovery}" fill-opacity="0.45"/>`), 'recovery'],
    [sw(`<rect x="6" y="3" width="14" height="12" fill="#FFFFFF" stroke="${COLOURS.ink}" stroke-dasharray="2 2"/>`), 'I/O error'],
    [sw(`<rect x="2" y="2" width="22" height="14" rx="3" fill="#FFFFFF" stroke="${COLOURS.crash}" stroke-width="2.5"/><text x="8" y="13" class="fail-text">✗</text>`), 'the check that failed'],
  ];
  return `<ul class="legend">${items.map(([swatch, words]) => `<li>${swatch}${words}</li>`).join('')}</ul>`;
}

/** The patterns the marks refer to, once per page. */
export const SVG_DEFS =
  `<svg class="defs" width="0" height="0" aria-hidden="true" focusable="false"><defs>` +
  `<pattern id="lost-hatch" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="5" height="5" fill="#FFFFFF"/><line x1="0" y1="0" x2="0" y2="5" stroke="${COLOURS.lost}" stroke-width="2.2"/></pattern>` +
  `<pattern id="sampled-hatch" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)"><line x1="0" y1="0" x2="0" y2="4" stroke="#000000" stroke-opacity="0.55" stroke-width="1"/></pattern>` +
  `</defs></svg>`;
