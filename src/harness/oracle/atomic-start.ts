/**
 * Rule 7, atomic start: a crash during `startRestore` leaves either the old source or the restore
 * in progress, as `status()` reports, and the content matches that branch. The branch is taken
 * from the status here; the content is then judged by `readMatchesModel` under this rule's name.
 */
import type { EngineStatus } from '../../engine/contract.js';
import type { Finding } from './finding.js';

export function startBranch(status: EngineStatus, protect: boolean): { branch: 'fractured' | 'restoring'; findings: Finding[] } {
  if (status.state === 'restoring' && status.protect !== protect) {
    return { branch: 'restoring', findings: [{ rule: 'atomic-start', message: `startRestore({ protect: ${protect} }) was interrupted and recovery reports a restore with protect ${status.protect}` }] };
  }
  return { branch: status.state, findings: [] };
}
