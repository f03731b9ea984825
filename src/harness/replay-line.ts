/**
 * The one line that replays a case: `prestore replay [ENGINE ARGS] c1.<data>`, where data is the
 * case and seed as JSON, deflated and base64url-encoded, so the line is short and copy-safe.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { InputError } from '../errors.js';
import type { Case } from './case.js';
import { checkLineCase } from './case-check.js';
import { parseJson } from './json-input.js';

const PREFIX = 'c1.';

/** A line's case is a few kilobytes; a token that inflates past this is not one of ours. */
const MAX_INFLATED_BYTES = 16 * 2 ** 20;

export interface ReplayToken {
  readonly case: Case;
  readonly seed: string;
}

export function encodeCase(c: Case, seed: string): string {
  return PREFIX + deflateRawSync(Buffer.from(JSON.stringify({ case: c, seed }))).toString('base64url');
}

/**
 * The case and seed a token carries, checked whole as any input from outside is (a line may have
 * been edited): bad input throws `InputError` naming the field.
 */
export function decodeCase(token: string): ReplayToken {
  if (!token.startsWith(PREFIX)) throw new InputError(`not a replay token: it must start with "${PREFIX}"`);
  let text: string;
  try {
    text = inflateRawSync(Buffer.from(token.slice(PREFIX.length), 'base64url'), { maxOutputLength: MAX_INFLATED_BYTES }).toString('utf8');
  } catch {
    throw new InputError('replay token is damaged: it does not decode (was it cut when copied?)');
  }
  const t = parseJson(text, 'replay token') as Partial<ReplayToken> | null;
  if (typeof t !== 'object' || t === null || Array.isArray(t) || typeof t.seed !== 'string' || typeof t.case !== 'object' || t.case === null) {
    throw new InputError('replay token is damaged: it lacks the case or the seed');
  }
  return { case: checkLineCase(t.case, 'replay line'), seed: t.seed };
}

export function replayCommand(engineArgs: string, c: Case, seed: string): string {
  return `prestore replay ${engineArgs} ${encodeCase(c, seed)}`;
}

/**
 * What `--engine` says in a line whose engine the harness cannot name: a campaign run from code
 * with no `engineArgs` knows the engine's object, not how to load it. `prestore replay` refuses an
 * engine so named, so a pasted line never runs an engine other than the one that failed.
 */
export const UNNAMED_ENGINE = 'from-code:';

/** The name is kept to characters a shell passes as they are: the line needs no quoting. */
export function unnamedEngineArgs(engineName: string): string {
  return `--engine ${UNNAMED_ENGINE}${engineName.replace(/[^\w@%+=:,./-]/g, '_')}`;
}
