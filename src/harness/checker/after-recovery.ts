/**
 * What a recovery must show, checked after every one: an interrupted start decided one way or the
 * other (rule 7), every sector of source (and, fractured, clone) read back as the model allows
 * (rule 2), D covering every difference (rule 4), the clone untouched by a protected restore
 * (rule 1), and the I/O of the recovery itself within rules 1 and 5.
 */
import type { Volume } from '../case.js';
import { cloneUnchanged } from '../oracle/clone-preserved.js';
import type { Finding } from '../oracle/finding.js';
import { readMatchesModel } from '../oracle/reads-right.js';
import { Stop, type Checker } from './checker.js';
import { checkDeltaCovers, decideStart, restoreEnded, widenCopyAllowed } from './restore.js';

export async function afterRecovery(checker: Checker): Promise<void> {
  const state = checker.state;
  checker.note('check: the engine\'s status, then every sector read back through the engine');
  const status = await checker.must('status after recovery', state.pendingStart === undefined ? 'progress' : 'atomic-start', () => checker.engine!.status());
  let rule: Finding['rule'] = 'reads-right';
  if (state.pendingStart !== undefined) {
    rule = 'atomic-start';
    await decideStart(checker, status);
  } else if (state.phase === 'restoring' && status.state === 'fractured') {
    checker.note('recovery found the restore complete');
    restoreEnded(checker);
  } else if (state.phase === 'fractured' && status.state === 'restoring') {
    throw new Stop({ rule: 'atomic-start', message: 'after recovery the engine reports a restore in progress, but no restore was started since the last completion' });
  }
  await readAll(checker, 'source', rule);
  if (state.phase === 'fractured') {
    await readAll(checker, 'clone', rule);
    await checkDeltaCovers(checker, 'after recovery');
  } else {
    await widenCopyAllowed(checker);
  }
  if (state.phase === 'restoring' && state.protect) {
    const clone = await checker.peek('clone');
    checker.judge(() => cloneUnchanged(state.cloneAtStart!, clone, checker.sectorSize, 'during the restore, as seen after recovery'));
  }
  checker.checkRestoreTrace();
}

async function readAll(checker: Checker, volume: Volume, rule: Finding['rule']): Promise<void> {
  const { volumeSize } = checker.geometry;
  const out = await checker.call(() => (volume === 'source' ? checker.engine!.readSource(0, volumeSize) : checker.engine!.readClone(0, volumeSize)));
  if (out.ok) {
    const model = volume === 'source' ? checker.state.sourceModel : checker.state.cloneModel;
    checker.judge(() => readMatchesModel(model, `a read of the whole ${volume} after recovery`, 0, out.value, checker.sectorSize, rule));
    return;
  }
  await checker.settle(out, `reading the whole ${volume} after recovery`, rule);
}
