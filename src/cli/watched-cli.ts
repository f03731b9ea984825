/**
 * A command that runs an in-process engine runs in a worker thread, watched from the main thread
 * (./watchdog.ts), because an engine in the command's own thread can take it down without a word:
 * `process.exit(0)` would end the run green, a busy loop would hang it forever. Watched, either
 * ends the run with exit 2 and a message naming the engine and the call: the engine ended the
 * process, or it blocked its thread past the call timeout.
 *
 * An engine process (`--engine-cmd`) can do neither to prestore, so such a command runs in the
 * main thread as before. The main thread loads no command: the thread does.
 */
import { Worker } from 'node:worker_threads';
import type { CommandIo } from './command.js';
import { failed } from './dispatch.js';
import { CallBoard, endedMessage, hangMessage, uncaughtEngineMessage, watch, type WatchSlot } from './watchdog.js';
import { workerFile } from './worker-file.js';

export interface TerminalInfo {
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface CliThreadData {
  readonly argv: readonly string[];
  readonly terminal: { readonly stdout: TerminalInfo; readonly stderr: TerminalInfo };
  readonly watch: WatchSlot;
}

export type ThreadMessage = { readonly kind: 'write'; readonly fd: 1 | 2; readonly text: string } | { readonly kind: 'done'; readonly code: number };

/** The commands that take an engine (`--engine`, `--engine-cmd`). */
export const WATCHED_COMMANDS: readonly string[] = ['exhaust', 'explore', 'replay', 'start'];

/** True when `argv` runs a command that takes an in-process engine. */
export function runsWatched(argv: readonly string[]): boolean {
  if (!WATCHED_COMMANDS.includes(argv[0] ?? '')) return false;
  const args = argv.slice(1);
  const end = args.indexOf('--');
  return !(end < 0 ? args : args.slice(0, end)).some((a) => a === '--engine-cmd' || a.startsWith('--engine-cmd='));
}

const terminal = (stream: CommandIo['stdout'] & { columns?: number }): TerminalInfo => ({
  ...(stream.isTTY === undefined ? {} : { isTTY: stream.isTTY }),
  ...(stream.columns === undefined ? {} : { columns: stream.columns }),
});

/** Runs `prestore ARGV` in a watched worker thread, writing its output to `io`; resolves to the exit code. */
export function runWatched(argv: readonly string[], io: CommandIo): Promise<number> {
  const board = CallBoard.create(1);
  const data: CliThreadData = { argv, terminal: { stdout: terminal(io.stdout), stderr: terminal(io.stderr) }, watch: board.slot(0) };
  const worker = new Worker(workerFile('cli-thread.js'), { workerData: data, env: io.env });
  const command = argv[0] ?? '';
  return new Promise((resolve) => {
    let settled = false;
    /** The first ending wins. */
    const end = (code: number, message?: string) => {
      if (settled) return;
      settled = true;
      stop();
      if (message !== undefined) io.stderr.write(`prestore ${command}: ${message}\n`);
      resolve(code);
      void worker.terminate();
    };
    const stop = watch(board, [0], (hang) => end(2, hangMessage(hang)));
    worker.on('message', (m: ThreadMessage) => {
      if (settled) return;
      if (m.kind === 'write') (m.fd === 1 ? io.stdout : io.stderr).write(m.text);
      else end(m.code);
    });
    // An error the thread did not catch is the engine's when the engine threw it (outside any
    // promise prestore awaits); any other is prestore's, since the command line catches the rest.
    worker.on('error', (e) => {
      const engines = uncaughtEngineMessage(e, board.read(0));
      if (engines === undefined) end(failed(e, command, io));
      else end(2, engines);
    });
    worker.on('exit', (code) => end(2, endedMessage(board.read(0), code)));
  });
}
