/**
 * The report as a person sees it: a known mutant's run drawn by `--html`, opened from disk in
 * headless Chromium (Debian's, driven by playwright-core), and checked by what is on the page:
 * the lanes, the crash line at the crash point's x, as many surviving writes drawn as the JSON
 * names, the replay line, and not one request leaving the file. Screenshots of each report kind
 * go to coverage/screenshots/ for a person to look at (not compared pixel by pixel).
 *
 * Without Chromium the tests skip with a notice, unless PRESTORE_REAL_CLIENTS=1 (CI), where a
 * missing browser is a failure.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandIo } from '../cli/command.js';
import { runCli } from '../cli/dispatch.js';
import type { JsonResult } from '../cli/report.js';
import { decodeCase } from '../harness/replay-line.js';

/** PRESTORE_CHROMIUM names the browser; else Debian's chromium is looked for where it installs. */
const CANDIDATES = process.env.PRESTORE_CHROMIUM ? [process.env.PRESTORE_CHROMIUM] : ['/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser'];
const executable = CANDIDATES.find((p) => existsSync(p));
const required = process.env.PRESTORE_REAL_CLIENTS === '1';
const SHOTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'coverage', 'screenshots');

if (executable === undefined && !required) {
  console.warn(`\nSKIPPED: the HTML report's browser tests: no Chromium at ${CANDIDATES.join(', ')} (apt-get install chromium, or set PRESTORE_CHROMIUM)\n`);
}

describe.runIf(executable === undefined && required)('the browser the HTML report is checked in', () => {
  it('is installed (PRESTORE_REAL_CLIENTS=1)', () => {
    expect.fail(`PRESTORE_REAL_CLIENTS=1 but no Chromium at ${CANDIDATES.join(', ')}: apt-get install chromium`);
  });
});

describe.runIf(executable !== undefined)('the HTML report in a browser', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prestore-browser-'));
  let browser: Browser;
  let context: BrowserContext;
  let result: JsonResult;
  const requests: string[] = [];
  const blocked: string[] = [];

  async function cli(argv: string[]): Promise<number> {
    const sink = { write: () => true } as unknown as CommandIo['stdout'];
    return runCli(argv, { stdout: sink, stderr: sink, env: {}, cwd: dir });
  }

  beforeAll(async () => {
    const [code] = await Promise.all([
      cli(['exhaust', 'protected-restore', '--engine', 'mutant:clear-before-durable', '--json', 'r.json', '--html', 'r.html']),
      (async () => {
        browser = await chromium.launch({ executablePath: executable!, args: ['--no-sandbox'] });
      })(),
    ]);
    expect(code).toBe(1);
    result = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')) as JsonResult;
    expect(await cli(['replay', result.violations[0]!.replay, '--html', 'replay.html'])).toBe(1);
    expect(await cli(['mutants', 'clear-before-durable', 'clone-write', '--runs', '0', '--html', 'm.html'])).toBe(0);
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.on('request', (r) => requests.push(r.url()));
    // Anything but the file itself is refused, and remembered.
    await context.route(
      (url) => url.protocol !== 'file:',
      (route) => {
        blocked.push(route.request().url());
        return route.abort();
      },
    );
    mkdirSync(SHOTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(file: string, width = 1280): Promise<Page> {
    const page = await context.newPage();
    await page.setViewportSize({ width, height: 900 });
    await page.goto(pathToFileURL(join(dir, file)).href);
    return page;
  }

  const centreX = async (page: Page, selector: string) => {
    const box = await page.locator(selector).first().boundingBox();
    if (box === null) throw new Error(`${selector} is not drawn`);
    return box.x + box.width / 2;
  };

  it('draws the first violation: lanes, the crash at its point, the survivors the JSON names, the replay line', { timeout: 30_000 }, async () => {
    const page = await open('r.html');
    await page.screenshot({ path: join(SHOTS, 'run-summary.png') });
    const v = result.violations[0]!;
    const figure = '#violation-1';
    for (const lane of ['host', 'source', 'clone', 'meta']) {
      await expect.poll(() => page.locator(`${figure} svg rect.lane[data-lane="${lane}"]`).count()).toBe(1);
      expect(await page.locator(`${figure} .lane-label[data-lane="${lane}"]`).innerText()).toContain(lane);
    }

    // The crash point, as the JSON names it in words and in the replay line's case.
    const point = Number(/crash at I\/O point (\d+)/.exec(v.crash?.[0] ?? '')?.[1]);
    const { case: shrunk } = decodeCase(v.replay.split(' ').pop()!);
    expect(shrunk.crashes.map((c) => c.point)).toEqual([point]);
    const lineX = await centreX(page, `${figure} .crash-line[data-point="${point}"]`);
    expect(Math.abs(lineX - (await centreX(page, `${figure} svg [data-point="${point}"][data-device]`)))).toBeLessThan(1);
    expect(Math.abs(lineX - (await centreX(page, `${figure} [data-tick="${point}"]`)))).toBeLessThan(1);
    // …and not at its neighbour's.
    expect(Math.abs(lineX - (await centreX(page, `${figure} svg [data-point="${point - 1}"][data-device]`)))).toBeGreaterThan(10);

    // Surviving writes: as many drawn as the replay line's case and the crash words name.
    const survivors = shrunk.crashes.reduce((n, c) => n + (c.choice?.survivors.length ?? 0), 0);
    const inWords = (/writes? at (.*?) survived/.exec(v.crash![0]!)?.[1] ?? '').split(/, | and /).filter((w) => w.includes('@')).length;
    expect(survivors).toBe(inWords);
    const drawn = await page.locator(`${figure} svg g.cached:is([data-survival="survived"], [data-survival="torn"])`).count();
    expect(drawn).toBe(survivors);
    const lost = (/, (.*?) (?:was|were) lost/.exec(v.crash![0]!)?.[1] ?? '').split(/, | and /).filter((w) => w.includes('@')).length;
    expect(await page.locator(`${figure} svg g.cached[data-survival="lost"]`).count()).toBe(lost);

    expect(await page.locator(`${figure} [data-replay]`).innerText()).toBe(v.replay);
    expect(await page.locator(`${figure} .failed-check`).textContent()).toContain(`rule ${v.ruleNumber}`);
    await page.locator(figure).screenshot({ path: join(SHOTS, 'violation.png') });
    await page.locator('#coverage').screenshot({ path: join(SHOTS, 'coverage-heatmap.png') });
    expect(await page.locator('#coverage svg.heatmap rect.cell').count()).toBe(3 * result.coverage.reduce((n, r) => n + r.ioPoints, 0));
    await page.close();
  });

  it('keeps every report kind to itself: no script, no request but the file', { timeout: 30_000 }, async () => {
    for (const [file, shot, part] of [
      ['m.html', 'kill-matrix.png', '#matrix'],
      ['replay.html', 'replay.png', 'main'],
    ] as const) {
      const page = await open(file);
      expect(await page.evaluate(() => document.scripts.length)).toBe(0);
      await page.locator(part).screenshot({ path: join(SHOTS, shot) });
      await page.close();
    }
    expect(blocked).toEqual([]);
    expect(requests.every((url) => url.startsWith('file:'))).toBe(true);
    expect(new Set(requests)).toEqual(new Set(['r.html', 'm.html', 'replay.html'].map((f) => pathToFileURL(join(dir, f)).href)));
  });

  it('reads on a 320 px screen and printed in grey', { timeout: 30_000 }, async () => {
    const page = await open('replay.html', 320);
    // Nothing but the picture itself is wider than the screen: the page does not scroll sideways.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(320);
    await page.screenshot({ path: join(SHOTS, 'replay-320px.png'), fullPage: true });
    await page.emulateMedia({ media: 'print' });
    await page.setViewportSize({ width: 800, height: 900 });
    await page.addStyleTag({ content: 'html { filter: grayscale(1); }' });
    // Printed, the picture is scaled to the page and its lane names stay beside their lanes.
    const label = await page.locator('#violation-1 .lane-label[data-lane="meta"]').boundingBox();
    const lane = await page.locator('#violation-1 svg rect.lane[data-lane="meta"]').boundingBox();
    expect(Math.abs(label!.y + label!.height / 2 - (lane!.y + lane!.height / 2))).toBeLessThan(3);
    expect(lane!.x + lane!.width).toBeLessThanOrEqual(800);
    await page.screenshot({ path: join(SHOTS, 'replay-print-grey.png'), fullPage: true });
    await page.close();
  });
});
