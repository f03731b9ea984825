/**
 * Engine processes, each the leader of a process group of its own, so that ending one ends all it
 * started: a shell pipeline, a helper, a `sleep` an engine forked. Every end is `SIGKILL` to the
 * whole group: power loss for the engine (the protocol's crash), and nothing an engine can ignore
 * or outlive by trapping `SIGTERM`.
 *
 * A group of its own also means the terminal's Ctrl-C no longer reaches the engine, so prestore
 * ends every group itself: when it exits, and when SIGINT, SIGTERM or SIGHUP stops it.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { isMainThread } from 'node:worker_threads';

/** Every engine process group whose leader has not yet been reaped, with the promise of that. */
const live = new Map<number, Promise<void>>();

/** Sends SIGKILL to every process of the group `pgid` (the leader's pid); none left is no error. */
export function endGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // ESRCH: the whole group is already gone.
  }
}

/** Ends every engine process group, serving or not (a program embedding the harness, at its end). */
export function endAll(): void {
  for (const pgid of live.keys()) endGroup(pgid);
}

let guarded = false;

/**
 * Ends every engine group when prestore exits or is stopped by a signal. Installed once, with the
 * first engine process. A signal prestore has no other listener for then does what it would have
 * done without this one: the listener steps aside and the signal is raised again.
 */
export function guardEngineProcesses(): void {
  if (guarded) return;
  guarded = true;
  process.on('exit', endAll);
  // Signals reach only the main thread; a worker's groups end with its own exit.
  if (!isMainThread) return;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      endAll();
      if (process.listenerCount(signal) === 1) {
        process.off(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/**
 * Starts `command` through `/bin/sh` as the leader of a new process group. `exec` replaces the
 * shell, so the leader is the engine itself. When the leader exits, what it left in its group is
 * ended too.
 */
export function spawnEngine(command: string): ChildProcessWithoutNullStreams {
  guardEngineProcesses();
  const child = spawn('/bin/sh', ['-c', `exec ${command}`], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  const pgid = child.pid;
  if (pgid !== undefined) {
    const ended = new Promise<void>((resolve) =>
      child.once('exit', () => {
        endGroup(pgid);
        resolve();
      }),
    );
    live.set(pgid, ended.finally(() => live.delete(pgid)));
  }
  return child;
}

/**
 * Persistent engine processes between two engine instances, each with how to end it: prestore
 * ends them when a command is over (a program embedding the harness may too).
 */
const resting = new Map<number, () => void>();

/** The process `pgid` waits for its next instance (`end` given) or serves one (`end` absent). */
export function markResting(pgid: number, end?: () => void): void {
  if (end === undefined) resting.delete(pgid);
  else resting.set(pgid, end);
}

/** Ends every persistent engine process that is not serving an instance now. */
export function endRestingProcesses(): void {
  for (const end of [...resting.values()]) end();
  resting.clear();
}

/** Engine process groups whose leader has not been reaped yet (for tests that check nothing is left). */
export function liveProcesses(): number {
  return live.size;
}

/** Resolves once every engine process started so far has ended and been reaped. */
export async function allProcessesEnded(): Promise<void> {
  await Promise.all(live.values());
}
