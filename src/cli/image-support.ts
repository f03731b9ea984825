/** What the image commands share: paths, the --json output, and stopping on SIGINT/SIGTERM. */
import { resolve } from 'node:path';
import type { CommandIo } from './command.js';
import { UsageError } from '../errors.js';
import { checkReportTarget, writeAtomically } from './report.js';
import type { Lock } from '../images/lock.js';

export function requiredPath(flag: string, value: string | undefined, io: CommandIo): string {
  if (value === undefined || value === '') throw new UsageError(`--${flag} FILE is required`);
  return resolve(io.cwd ?? process.cwd(), value);
}

export async function checkJsonTarget(json: string | undefined, io: CommandIo): Promise<void> {
  await checkReportTarget('json', json, io.cwd ?? process.cwd());
}

/** Writes `value` as JSON to `json` (a file, or - for standard output), if asked. */
export async function writeJson(json: string | undefined, value: unknown, io: CommandIo): Promise<void> {
  if (json === undefined) return;
  const text = `${JSON.stringify(value, null, 2)}\n`;
  if (json === '-') io.stdout.write(text);
  else await writeAtomically(json, text, io.cwd ?? process.cwd());
}

/** Where people read: standard error when the JSON owns standard output. */
export function humanStream(json: string | undefined, io: CommandIo): NodeJS.WritableStream {
  return json === '-' ? io.stderr : io.stdout;
}

export const EXIT_SIGNAL: Readonly<Record<'SIGINT' | 'SIGTERM', number>> = { SIGINT: 130, SIGTERM: 143 };

export interface Interrupt {
  readonly signal: AbortSignal;
  /** The signal that asked to stop, if one did. */
  received(): 'SIGINT' | 'SIGTERM' | undefined;
  holdLock(lock: Lock): void;
  dispose(): void;
}

/**
 * The first SIGINT or SIGTERM asks the copier to stop between steps, so the lock is released and
 * the way to resume printed. A second one exits at once: that is as safe as a SIGKILL (nothing is
 * lost), only the lock is released by hand on the way out. Work with nothing to save (a compare)
 * passes `atOnce`, the message to leave: then the first signal exits at once.
 */
export function interruptOnSignals(io: CommandIo, atOnce?: string, stopping = 'stopping after the current step'): Interrupt {
  const controller = new AbortController();
  let first: 'SIGINT' | 'SIGTERM' | undefined;
  let lock: Lock | undefined;
  const handler = (sig: 'SIGINT' | 'SIGTERM') => {
    if (atOnce !== undefined) {
      lock?.releaseSync();
      io.stderr.write(`\n${sig}: ${atOnce}\n`);
      process.exit(EXIT_SIGNAL[sig]);
    }
    if (first === undefined) {
      first = sig;
      io.stderr.write(`\n${sig}: ${stopping} (again to stop at once; nothing is lost either way)\n`);
      controller.abort();
      return;
    }
    lock?.releaseSync();
    io.stderr.write(`${sig}: stopped at once; the restore state is intact, finish it with prestore resume\n`);
    process.exit(EXIT_SIGNAL[sig]);
  };
  const onInt = () => handler('SIGINT');
  const onTerm = () => handler('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return {
    signal: controller.signal,
    received: () => first,
    holdLock: (l) => {
      lock = l;
    },
    dispose: () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    },
  };
}
