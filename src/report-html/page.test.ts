/**
 * The page from hostile data: engine names, scenario names, messages and replay lines come from
 * whoever ran the harness (a vendor's engine names itself), so each must reach the page as text,
 * never as markup. And the page must stand alone: nothing to fetch, nothing to run.
 */
import { describe, expect, it } from 'vitest';
import type { Timeline } from './timeline-data.js';
import { esc } from './escape.js';
import { mutantsPage, replayPage, runPage, type RunView } from './page.js';
import type { Picture } from './picture.js';

const HOSTILE = [`</script><script>alert(1)</script>`, `"><img src=x onerror=alert(2)>`, `' onmouseover='alert(3)`, `<svg onload=alert(4)>`, `&lt;already escaped&gt;`, `</title></style><!--`, `\u0000nul\u0007bell\uD800lone`];
const evil = HOSTILE.join(' ');

const timeline: Timeline = {
  sectors: { source: 4, clone: 4, meta: 2 },
  ios: [
    { point: 0, device: 'meta', op: 'read', sector: 0, sectors: 2, fua: false, outcome: 'ok' },
    { point: 1, device: 'source', op: 'write', sector: 1, sectors: 2, fua: false, outcome: 'ok' },
    { point: 2, device: 'meta', op: 'write', sector: 0, sectors: 1, fua: true, outcome: 'crash' },
  ],
  steps: [{ from: 0, to: 3, kind: 'host', text: `host: ${evil}`, count: 1 }],
  crashes: [{ point: 2, at: 2, mode: 'torn', cached: [{ device: 'source', point: 1, sector: 1, sectors: 2, inFlight: false, survived: [1] }] }],
  end: 3,
  partial: evil,
};

const picture: Picture = {
  violation: { rule: 'reads-right', message: evil, replay: `prestore replay --engine '${evil}' c1.x`, sector: 1, expected: evil, actual: evil, crash: [evil], trace: [evil] },
  where: evil,
  replay: `prestore replay --engine '${evil}' c1.x`,
  timeline,
  crashes: [evil],
  transcript: [evil],
};

const run: RunView = {
  command: evil,
  engine: evil,
  facts: [[evil, evil]],
  parts: [{ name: evil, cases: 1, crashStates: 2, distinctCrashStates: 1, violations: 1, time: evil }],
  totals: { cases: 1, crashStates: 2, distinctCrashStates: 1, violations: 2, time: evil },
  violationsByRule: { 'clone-preserved': 0, 'reads-right': 2, 'restore-ends-right': 0, 'delta-map-sound': 0, 'only-differing-copied': 0, progress: 0, 'atomic-start': 0 },
  coverage: [
    { scenario: evil, mode: 'torn', ioPoints: 3, crashStates: 5, distinctCrashStates: 4, enumeratedPoints: 2, sampledPoints: 1, secondCrashStates: 0, points: { crashStates: [1, 2, 2], distinct: [1, 2, 1], violations: [0, 1, 1], sampled: [0, 0, 1] } },
    { scenario: `${evil}2`, mode: 'drop', ioPoints: 3, crashStates: 3, distinctCrashStates: 3, enumeratedPoints: 3, sampledPoints: 0, secondCrashStates: 0 },
  ],
  pictures: [picture],
  others: [{ rule: 'progress', message: evil, replay: evil, trace: [], where: evil }],
};

const pages = {
  run: runPage(run),
  mutants: mutantsPage({ facts: [[evil, evil]], rows: [{ mutant: evil, description: evil, killed: true, cases: 3, time: evil, rule: 'reads-right', expectedRule: evil }], pictures: [{ ...picture, where: evil }] }),
  replay: replayPage({ engine: evil, facts: [[evil, evil]], picture }),
};

/** The elements the page is made of: anything else came from the data. */
const ELEMENTS = new Set('html head meta title style body main svg defs pattern rect line path text g h1 h2 h3 h4 p ul li a nav section article dl dt dd div span code pre table thead tbody tr th td figure figcaption details summary'.split(' '));

/** Every tag of the page, quoted attribute values taken out (escaped data lives only in those, and in text). */
function tags(html: string): { name: string; attributes: string[]; raw: string }[] {
  const body = html.replace(/<style>[\s\S]*?<\/style>/, '<style></style>').replace(/^<!DOCTYPE html>/, '');
  return [...body.matchAll(/<\/?([a-zA-Z][\w-]*)([^<>]*)>/g)].map((m) => {
    const unquoted = m[2]!.replace(/"[^"]*"|'[^']*'/g, '""');
    return { name: m[1]!.toLowerCase(), attributes: [...unquoted.matchAll(/([^\s=/"]+)\s*(?==|\s|$)/g)].map((a) => a[1]!.toLowerCase()), raw: m[0] };
  });
}

describe('the page from hostile strings', () => {
  for (const [kind, html] of Object.entries(pages)) {
    it(`${kind}: every string from the data is text, not markup`, () => {
      for (const tag of tags(html)) {
        expect(ELEMENTS.has(tag.name), tag.raw).toBe(true);
        for (const name of tag.attributes) expect(name.startsWith('on'), tag.raw).toBe(false);
      }
      // A stray '<' not starting one of the page's own tags would be markup from the data.
      expect(html.replace(/<style>[\s\S]*?<\/style>/, '').replace(/<\/?[a-zA-Z][\w-]*[^<>]*>/g, '').replace(/^<!DOCTYPE html>/, '')).not.toContain('<');
      for (const bad of ['\u0000', '\u0007', '\uD800']) expect(html.includes(bad), JSON.stringify(bad)).toBe(false);
      // The hostile strings are all there, as text.
      expect(html).toContain(esc(HOSTILE[0]!));
      expect(html).toContain('&amp;lt;already escaped&amp;gt;');
    });

    it(`${kind}: stands alone: no script, nothing fetched, and a policy that forbids both`, () => {
      expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
      expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'`);
      for (const tag of tags(html)) {
        expect(['script', 'link', 'iframe', 'object', 'embed', 'img', 'image', 'use'].includes(tag.name), tag.raw).toBe(false);
        expect(tag.attributes.some((a) => ['src', 'srcset', 'xlink:href', 'action', 'formaction'].includes(a)), tag.raw).toBe(false);
        if (tag.name === 'a' && !tag.raw.startsWith('</')) expect(tag.raw, 'links stay in the page').toMatch(/^<a href="#[\w-]+">$/);
      }
      expect(html).not.toMatch(/@import|url\((?!#)/i);
    });
  }

  it('escapes the five characters HTML gives meaning, and replaces the ones it forbids', () => {
    expect(esc(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    expect(esc('a\u0000b\u001Fc\uDC00d😀')).toBe('a\uFFFDb\uFFFDc\uFFFDd😀');
  });
});

describe('the page tells what it draws', () => {
  it('draws the coverage of a file without per-point counts as a note and the totals', () => {
    expect(pages.run).toContain('is not in this result file');
    expect((pages.run.match(/class="cell"/g) ?? []).length).toBe(3 * 3);
    expect((pages.run.match(/class="sampled"/g) ?? []).length).toBe(3);
  });

  it('says when a picture was drawn from text, and why', () => {
    expect(pages.replay).toContain('Drawn from the last I/O the result file kept');
  });

  it('draws a torn write sector by sector, and names it', () => {
    expect(pages.run).toMatch(/data-survival="torn"/);
    expect((pages.run.match(/class="sector sector-survived"/g) ?? []).length).toBe(1);
    expect((pages.run.match(/class="sector sector-lost"/g) ?? []).length).toBe(1);
  });
});
