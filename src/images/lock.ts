/**
 * One process per image at a time, whatever metadata file names it: each image of a pair has a
 * lock file keyed by the image's device and inode number, `prestore-DEV-INO.lock` in one lock
 * directory, holding "PID HOST" and the image's path. Two metadata files made for the same
 * images, a symlink, a hard link or a bind mount of an image all lead to the same lock. A restore
 * locks both images of its pair: the source because it writes it, the clone because a pair whose
 * clone is another restore's source would copy from an image that is changing.
 *
 * The lock directory: $PRESTORE_LOCK_DIR if set (it must exist), else /run/lock where it exists
 * and is writable (the system's directory for lock files, emptied at boot), else the OS temporary
 * directory. Locks cover one host: the lock directory is local, and a PID means nothing elsewhere.
 *
 * A lock is made by writing a temporary file and hard-linking it to the lock's name: the link
 * either creates the whole lock or fails because one exists, so no crash leaves an empty lock
 * that nobody could judge. The temporary file is removed however its writing ends (a full disk
 * included). A lock whose process is gone (SIGKILL, power loss) is stale: it is taken aside by a
 * rename, which only one process can win, and removed only if it still names the dead process,
 * so two processes clearing the same stale lock cannot remove each other's new one.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, statSync, unlinkSync } from 'node:fs';
import { link, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { ioError } from './io-error.js';

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
}

export type LockState =
  | { readonly state: 'free' }
  | { readonly state: 'held'; readonly holder: LockHolder }
  | { readonly state: 'stale'; readonly holder: LockHolder }
  | { readonly state: 'unreadable'; readonly text: string };

/** One image of a pair, as the lock knows it. */
export interface LockedImage {
  /** `source image`, `clone image`: how messages name it. */
  readonly role: string;
  readonly path: string;
}

export interface Lock {
  /** The lock files held, one per image. */
  readonly paths: readonly string[];
  release(): Promise<void>;
  /** For a process on its way out (a second Ctrl-C), where nothing async will run. */
  releaseSync(): void;
}

/** The lock directory for this environment (see the top of this file). */
export function lockDirectory(env: NodeJS.ProcessEnv): string {
  const chosen = env.PRESTORE_LOCK_DIR;
  if (chosen !== undefined && chosen !== '') {
    let isDir = false;
    try {
      isDir = statSync(chosen).isDirectory();
    } catch {
      // Reported below.
    }
    if (!isDir) throw new InputError(`PRESTORE_LOCK_DIR=${chosen}: not a directory (the image locks live there; make it, or unset the variable)`);
    return chosen;
  }
  try {
    accessSync('/run/lock', constants.W_OK | constants.X_OK);
    if (statSync('/run/lock').isDirectory()) return '/run/lock';
  } catch {
    // No /run/lock here, or not ours to write: the temporary directory instead.
  }
  return tmpdir();
}

/** The lock file of the image at `path`: by device and inode, so every name of the file meets it. */
export async function imageLockPath(dir: string, image: LockedImage): Promise<string> {
  let s;
  try {
    s = await stat(image.path, { bigint: true });
  } catch (e) {
    throw ioError(e, `${image.role} ${image.path}`);
  }
  return join(dir, `prestore-${s.dev}-${s.ino}.lock`);
}

function parseHolder(text: string): LockHolder | undefined {
  const m = /^(\d+) (\S+)\n/.exec(text);
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

export async function lockState(lockPath: string): Promise<LockState> {
  let text: string;
  try {
    text = await readFile(lockPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'free' };
    throw ioError(e, `cannot read the lock ${lockPath}`);
  }
  const holder = parseHolder(text);
  if (holder === undefined) return { state: 'unreadable', text };
  return alive(holder) ? { state: 'held', holder } : { state: 'stale', holder };
}

export function describeHolder(h: LockHolder): string {
  return h.host === hostname() ? `process ${h.pid}` : `process ${h.pid} on host ${h.host}`;
}

/**
 * Locks every image of a pair, or none: what was taken is given back if a later one fails. The
 * images are locked in the order of their lock files' names, so two processes after the same
 * pair meet at the same first lock and one of them gets both.
 */
export async function acquirePairLock(dir: string, images: readonly LockedImage[], notice: (message: string) => void): Promise<Lock> {
  const keyed = await Promise.all(images.map(async (image) => ({ image, path: await imageLockPath(dir, image) })));
  keyed.sort((a, b) => a.path.localeCompare(b.path));
  const taken: string[] = [];
  try {
    for (const { image, path } of keyed) {
      await acquireOne(path, image, notice);
      taken.push(path);
    }
  } catch (e) {
    await Promise.all(taken.map((p) => unlink(p).catch(() => undefined)));
    throw e;
  }
  return held(taken);
}

async function acquireOne(path: string, image: LockedImage, notice: (message: string) => void): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    // Inside the try: a write that fails (ENOSPC) has already created the file, which must go.
    await writeFile(temp, `${process.pid} ${hostname()}\n${image.path}\n`, { flag: 'wx' });
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await link(temp, path);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const state = await lockState(path);
      if (state.state === 'held') {
        throw new InputError(
          `${image.role} ${image.path} is locked by ${describeHolder(state.holder)}, which is running (lock file ${path}); ` +
            `wait for it to finish, or, if that process is not a prestore of this image, remove ${path}`,
        );
      }
      if (state.state === 'unreadable') {
        throw new InputError(`${path}: the lock file of ${image.role} ${image.path} cannot be read (${JSON.stringify(state.text.slice(0, 40))}); if no prestore is using this image, remove it`);
      }
      if (state.state === 'stale') await clearStale(path, state.holder, notice);
    }
    throw new InputError(`${path}: could not take the lock of ${image.role} ${image.path} (other processes keep taking it)`);
  } catch (e) {
    throw ioError(e, `cannot lock ${image.role} ${image.path} (lock file ${path})`);
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

function held(paths: readonly string[]): Lock {
  let released = false;
  return {
    paths,
    async release() {
      if (released) return;
      released = true;
      await Promise.all(paths.map((p) => unlink(p).catch(() => undefined)));
    },
    releaseSync() {
      if (released) return;
      released = true;
      for (const p of paths) {
        try {
          unlinkSync(p);
        } catch {
          // Already gone: nothing to release.
        }
      }
    },
  };
}
