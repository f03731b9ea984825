/**
 * A byte progress bar for image work (compare, restore): bytes done of total, rate and ETA, on
 * standard error, and only where `showsProgress` allows (a terminal, not CI).
 */
import cliProgress from 'cli-progress';
import type { CommandIo } from './command.js';
import { showsProgress } from './progress.js';
import { formatBytes } from '../images/sizes.js';

export interface ByteProgress {
  update(doneBytes: number): void;
  end(): void;
}

const silent: ByteProgress = { update() {}, end() {} };

function eta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export function byteProgress(io: CommandIo, label: string, totalBytes: number, now: () => number): ByteProgress {
  if (!showsProgress(io) || totalBytes <= 0) return silent;
  const started = now();
  const bar = new cliProgress.SingleBar(
    {
      stream: io.stderr,
      format: `${label} [{bar}] {percentage}% | {doneH} / {totalH} | {rate}/s | ETA {etaH}`,
      barsize: 24,
      // A restore stopped with Ctrl-C must not leave the cursor hidden.
      hideCursor: false,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const payload = (done: number) => {
    const seconds = (now() - started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    return { doneH: formatBytes(done), totalH: formatBytes(totalBytes), rate: formatBytes(Math.round(rate)), etaH: rate > 0 ? eta((totalBytes - done) / rate) : '--' };
  };
  bar.start(totalBytes, 0, payload(0));
  return {
    update(done) {
      bar.update(Math.min(done, totalBytes), payload(done));
    },
    end() {
      bar.stop();
    },
  };
}
