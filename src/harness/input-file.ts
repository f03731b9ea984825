/**
 * Reading an input file named on the command line: a scenario, a counterexample, a shard's
 * result. Only a regular file is read. A FIFO would block the read until some writer comes, and a
 * device such as /dev/zero never ends, so the kind is checked first, on the descriptor itself: it is
 * opened without blocking and then stat'ed, so nothing can swap the file between the check and
 * the read.
 */
import { constants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { InputError } from '../errors.js';

/** No input file of prestore's comes near this; anything larger is not one. */
export const MAX_INPUT_BYTES = 64 * 2 ** 20;

/** What a path is, in words, for a message saying it is not what a command expects. */
export function kindOf(stats: Stats): string {
  if (stats.isFile()) return 'a regular file';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Why a file system call failed, in words (the path is named by the caller). */
export function fsReason(e: unknown): string {
  const code = (e as { code?: string }).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'ELOOP':
      return 'too many symbolic links';
    case 'ENXIO':
      return 'a socket or a device with nothing behind it, not a regular file';
    default:
      return (e as Error).message ?? String(e);
  }
}

/**
 * The text of the regular file at `path`; anything else (missing, unreadable, a directory, a
 * FIFO, a device, too large) is an `InputError` naming the file as `name` and saying it is not
 * `what` ("a scenario file").
 */
export async function readInputFile(path: string, name: string, what: string): Promise<string> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new InputError(`${name}: ${fsReason(e)}`);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new InputError(`${name}: is ${kindOf(stats)}, not ${what}`);
    if (stats.size > MAX_INPUT_BYTES) throw new InputError(`${name}: ${stats.size} bytes is too large for ${what} (at most ${MAX_INPUT_BYTES} bytes)`);
    return await handle.readFile('utf8');
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${name}: cannot read it: ${fsReason(e)}`);
  } finally {
    await handle.close();
  }
}
