/**
 * An engine call that fails with no fault injected: no crash, no EIO, and not the "clone busy" a
 * restore calls for. Nothing excuses it, so it is a violation; it is filed under the rule whose
 * check needed the call to succeed, which the checker names at each call:
 *
 *   host reads, writes and flushes, and the whole-volume reads after recovery  2 reads-right
 *     (7 atomic-start for the reads that decide an interrupted start)
 *   opening the engine (recovery), startRestore, step, status after recovery     6 progress
 *   status deciding an interrupted start                                          7 atomic-start
 *   the final flushes before the end rules                                        3 restore-ends-right
 *   inspect for D at the start of a restore                                       5 only-differing-copied
 *   inspect for D after recovery and at the end, the second restore               4 delta-map-sound
 *
 * The message says what failed and how, so the rule says what could not be checked, never that
 * the restore stalled when it did not.
 */
import type { Finding } from './finding.js';
import type { RuleName } from './rules.js';

export function engineFailed(what: string, error: unknown, rule: RuleName): Finding {
  return { rule, message: `${what} failed with no fault injected: ${error instanceof Error ? error.message : String(error)}` };
}
