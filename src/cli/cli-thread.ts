/**
 * The worker thread a watched command runs in (./watched-cli.ts): the command line as usual, its
 * output posted to the main thread in order, and its exit code last. A thread that ends without
 * posting its exit code did not finish.
 */
import { Writable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { runCli } from './dispatch.js';
import type { CliThreadData, TerminalInfo, ThreadMessage } from './watched-cli.js';
import { markEnding } from './watchdog.js';

markEnding();
const data = workerData as CliThreadData;
const post = (message: ThreadMessage) => parentPort!.postMessage(message);

function stream(fd: 1 | 2, terminal: TerminalInfo): Writable & TerminalInfo {
  const out = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, done) {
      post({ kind: 'write', fd, text: String(chunk) });
      done();
    },
  });
  return Object.assign(out, terminal);
}

const code = await runCli(data.argv, { stdout: stream(1, data.terminal.stdout), stderr: stream(2, data.terminal.stderr), env: process.env, cwd: process.cwd() });
post({ kind: 'done', code });
