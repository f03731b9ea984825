/**
 * `prestore serve` as a child process, for the tests and the bench: started, waited on until it
 * prints where clients connect, then stopped by a signal (or killed outright).
 */
import { type ChildProcess, spawn } from 'node:child_process';

export interface ServeExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ServeProcess {
  readonly child: ChildProcess;
  /** The URI the server printed (nbd+unix:///?socket=... or nbd://host:port). */
  readonly uri: string;
  /** Everything it wrote so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves once standard output matches `pattern`; rejects if the process ends first or `timeoutMs` pass. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<void>;
  readonly exit: Promise<ServeExit>;
}

/**
 * Runs `node BIN serve ARGS...` and resolves once it is listening. `bin` is the built command
 * line (dist/src/cli/main.js). Rejects, with what the process wrote, if it exits first.
 */
export async function startServe(bin: string, args: readonly string[], { timeoutMs = 30_000, env = process.env } = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [bin, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, CI: '1' } });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (d) => {
    out += String(d);
    for (const l of listeners) l();
  });
  child.stderr!.on('data', (d) => (err += String(d)));
  let ended = false;
  const exit = new Promise<ServeExit>((done) =>
    child.on('close', (code, signal) => {
      ended = true;
      for (const l of listeners) l();
      done({ code, signal });
    }),
  );
  const waitFor = (pattern: RegExp, ms: number) =>
    new Promise<void>((done, fail) => {
      const check = () => {
        if (pattern.test(out)) finish(undefined);
        else if (ended) finish(new Error(`prestore serve ended before printing ${pattern}:\n${out}${err}`));
      };
      const timer = setTimeout(() => finish(new Error(`prestore serve did not print ${pattern} within ${ms} ms:\n${out}${err}`)), ms);
      const finish = (e: Error | undefined) => {
        clearTimeout(timer);
        listeners.delete(check);
        if (e === undefined) done();
        else fail(e);
      };
      listeners.add(check);
      check();
    });
  try {
    await waitFor(/connect to (\S+)/, timeoutMs);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return { child, uri: /connect to (\S+)/.exec(out)![1]!, stdout: () => out, stderr: () => err, waitFor, exit };
}
