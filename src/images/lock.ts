/**
 * One restore per pair at a time: `M.lock` beside the metadata file, holding "PID HOST".
 *
 * The lock is made by writing a temporary file and hard-linking it to the lock's name: the link
 * either creates the whole lock or fails because one exists, so no crash leaves an empty lock
 * that nobody could judge. A lock whose process is gone (SIGKILL, power loss) is stale: it is
 * taken aside by a rename, which only one process can win, and removed only if it still names the
 * dead process, so two processes clearing the same stale lock cannot remove each other's new one.
 */
import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { InputError } from '../errors.js';

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
}

export type LockState =
  | { readonly state: 'free' }
  | { readonly state: 'held'; readonly holder: LockHolder }
  | { readonly state: 'stale'; readonly holder: LockHolder }
  | { readonly state: 'unreadable'; readonly text: string };

export interface Lock {
  readonly path: string;
  release(): Promise<void>;
  /** For a process on its way out (a second Ctrl-C), where nothing async will run. */
  releaseSync(): void;
}

export function lockPath(metaPath: string): string {
  return `${metaPath}.lock`;
}

function parseHolder(text: string): LockHolder | undefined {
  const m = /^(\d+) (\S+)\n?$/.exec(text);
  return m === null ? undefined : { pid: Number(m[1]), host: m[2]! };
}

/** Whether `pid` runs on this host; a lock from another host cannot be judged, so it counts as held. */
function alive(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function lockState(metaPath: string): Promise<LockState> {
  let text: string;
  try {
    text = await readFile(lockPath(metaPath), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'free' };
    throw e;
  }
  const holder = parseHolder(text);
  if (holder === undefined) return { state: 'unreadable', text };
  return alive(holder) ? { state: 'held', holder } : { state: 'stale', holder };
}

export function describeHolder(h: LockHolder): string {
  return h.host === hostname() ? `process ${h.pid}` : `process ${h.pid} on host ${h.host}`;
}

/** Takes the lock of `metaPath`'s pair; `notice` hears about a stale lock being cleared. */
export async function acquireLock(metaPath: string, notice: (message: string) => void): Promise<Lock> {
  const path = lockPath(metaPath);
  const content = `${process.pid} ${hostname()}\n`;
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, content, { flag: 'wx' });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(temp, path);
        return held(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const state = await lockState(metaPath);
      if (state.state === 'held') {
        throw new InputError(
          `${path}: this pair is locked by ${describeHolder(state.holder)}, which is running; wait for it to finish, or, if that process is not a prestore of this pair, remove ${path}`,
        );
      }
      if (state.state === 'unreadable') {
        throw new InputError(`${path}: a lock file this prestore cannot read (${JSON.stringify(state.text.slice(0, 40))}); if no prestore is using this pair, remove it`);
      }
      if (state.state === 'stale') await clearStale(path, state.holder, notice);
    }
    throw new InputError(`${path}: could not take the lock (other processes keep taking it)`);
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

async function clearStale(path: string, holder: LockHolder, notice: (message: string) => void): Promise<void> {
  const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const text = await readFile(aside, 'utf8').catch(() => '');
  const now = parseHolder(text);
  if (now !== undefined && (now.pid !== holder.pid || now.host !== holder.host)) {
    // Another process took the lock between our look and our rename: put it back.
    await link(aside, path).catch(() => undefined);
  } else {
    notice(`cleared a stale lock left by ${describeHolder(holder)}, which is no longer running (it was interrupted; the restore state is intact)`);
  }
  await unlink(aside).catch(() => undefined);
}

function held(path: string): Lock {
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      await unlink(path).catch(() => undefined);
    },
    releaseSync() {
      if (released) return;
      released = true;
      try {
        unlinkSync(path);
      } catch {
        // Already gone: nothing to release.
      }
    },
  };
}
