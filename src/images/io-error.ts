/**
 * A failed system call on an image (EIO, ENOSPC, EACCES) is the disk's or the user's problem,
 * not a bug in prestore: it becomes an InputError (exit 2) that says what failed. Anything else
 * is passed through untouched, so a real bug still reports as one.
 */
import { InputError } from '../errors.js';

export function ioError(e: unknown, what: string): unknown {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return new InputError(`${what}: ${(e as Error).message}`);
  return e;
}
