/**
 * The one line that replays a case: `prestore replay [ENGINE ARGS] c1.<data>`, where data is the
 * case and seed as JSON, deflated and base64url-encoded, so the line is short and copy-safe.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Case } from './case.js';

const PREFIX = 'c1.';

export interface ReplayToken {
  readonly case: Case;
  readonly seed: string;
}

export function encodeCase(c: Case, seed: string): string {
  return PREFIX + deflateRawSync(Buffer.from(JSON.stringify({ case: c, seed }))).toString('base64url');
}

export function decodeCase(token: string): ReplayToken {
  if (!token.startsWith(PREFIX)) throw new Error(`not a replay token: it must start with "${PREFIX}"`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(inflateRawSync(Buffer.from(token.slice(PREFIX.length), 'base64url')).toString('utf8'));
  } catch {
    throw new Error('replay token is damaged: it does not decode (was it cut when copied?)');
  }
  const t = parsed as Partial<ReplayToken>;
  if (typeof t !== 'object' || t === null || typeof t.seed !== 'string' || typeof t.case !== 'object' || t.case === null) {
    throw new Error('replay token is damaged: it lacks the case or the seed');
  }
  return t as ReplayToken;
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
