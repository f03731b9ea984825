/**
 * A progress bar with rate and ETA on standard error, shown only on a terminal and never in CI
 * (env CI set): logs stay clean, and nothing but the report reaches a pipe.
 */
import cliProgress from 'cli-progress';
import type { Progress } from '../harness/campaign.js';
import type { CommandIo } from './command.js';

export interface ProgressDisplay {
  /** A new phase: `label` names it, `unit` what `done` counts. */
  begin(label: string, unit: string): void;
  update(progress: Progress): void;
  /** Ends the current phase's bar (also safe when none is shown). */
  end(): void;
}

const silent: ProgressDisplay = { begin() {}, update() {}, end() {} };

export function showsProgress(io: CommandIo): boolean {
  const ci = io.env.CI;
  return io.stderr.isTTY === true && (ci === undefined || ci === '' || ci === '0' || ci.toLowerCase() === 'false');
}

export function progressDisplay(io: CommandIo, now: () => number): ProgressDisplay {
  if (!showsProgress(io)) return silent;
  let bar: cliProgress.SingleBar | undefined;
  let started = 0;
  let label = '';
  let unit = '';
  const payload = (p: Progress) => {
    const seconds = (now() - started) / 1000;
    const rate = seconds > 0 ? p.done / seconds : 0;
    return { label, unit, rate: rate >= 100 ? Math.round(rate).toString() : rate.toFixed(1), violations: p.violations };
  };
  return {
    begin(l, u) {
      this.end();
      label = l;
      unit = u;
      started = now();
    },
    update(p) {
      if (bar === undefined) {
        bar = new cliProgress.SingleBar(
          {
            stream: io.stderr,
            format: '{label} [{bar}] {percentage}% | {value}/{total} {unit} | {rate}/s | ETA {eta_formatted} | violations {violations}',
            barsize: 24,
            // The cursor stays visible: a run stopped with Ctrl-C must not leave it hidden.
            hideCursor: false,
            clearOnComplete: false,
            etaBuffer: 50,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(p.total, p.done, payload(p));
      }
      if (bar.getTotal() !== p.total) bar.setTotal(p.total);
      bar.update(p.done, payload(p));
    },
    end() {
      bar?.stop();
      bar = undefined;
    },
  };
}
