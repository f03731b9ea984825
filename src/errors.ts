/**
 * The error types every layer shares, at the bottom of the import graph: devices, engine, harness,
 * images and the command line import from here and never from each other's upper layers. The
 * command line maps them to exit codes by type (`src/cli/dispatch.ts`):
 *
 *   UsageError  → 2, with a pointer to `--help` (an unknown flag, a missing argument)
 *   InputError  → 2 (bad input of any shape: a malformed scenario, corrupt metadata, a misbehaving
 *                 engine); every subclass below is bad input too
 *   anything else → 3, a bug in prestore
 */

/** Bad usage of the command line: an unknown flag, a missing argument. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Bad input: a malformed scenario, a wrong image, corrupt metadata, a misbehaving engine. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** Metadata that cannot be trusted: refused before anything is written. */
export class MetadataError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = 'MetadataError';
  }
}

/**
 * The engine under test did something no engine may do, so no verdict about it can be given: it
 * ended the process, hung, returned a value of the wrong shape. Bad input, never a rule violation.
 */
export class EngineMisbehaviourError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = 'EngineMisbehaviourError';
  }
}

/** An engine process broke the stdio protocol: what it did, in words. */
export class EngineProtocolError extends EngineMisbehaviourError {
  constructor(message: string) {
    super(message);
    this.name = 'EngineProtocolError';
  }
}

/**
 * An option given from code, checked: a whole number from `min` to `max`, or an InputError naming
 * the option (`createReferenceEngine: options.queueDepth: 0 must be ...`).
 */
export function wholeOption(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InputError(`${name}: ${typeof value === 'string' ? JSON.stringify(value) : String(value)} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

/** Refuses option names a function does not know (a misspelt option would silently do nothing). */
export function knownOptions(name: string, options: object, known: readonly string[]): void {
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new InputError(`${name}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (the options are ${known.join(', ')})`);
}
