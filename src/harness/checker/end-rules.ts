/**
 * The end of a case: the restore run to completion (rule 6), then, with faults disarmed, a final
 * flush and the end rules: the source as the model says (rule 3), the pair equal after an
 * unprotected restore (rule 3), the clone as it was at the start of a protected one (rule 1), D
 * covering every difference (rule 4), and a second restore with no host writes leaving the pair
 * equal (rule 4, black box).
 */
import { cloneUnchanged } from '../oracle/clone-preserved.js';
import { noProgress, stepBound } from '../oracle/progress.js';
import { pairEqual, sourceMatchesModel } from '../oracle/restore-ends-right.js';
import { type Checker, FaultRetries, Stop } from './checker.js';
import { startRestore } from './host-ops.js';
import { beginRestore, checkDeltaCovers, takeStep } from './restore.js';

export async function finish(checker: Checker): Promise<void> {
  const { state, sectorSize } = checker;
  if (state.phase === 'fractured' && state.restoresStarted === 0) await startRestore(checker, true);
  if (state.phase === 'restoring') checker.note('the workload is over: the copier steps until the restore completes');
  await runToCompletion(checker);
  state.armedEnd = checker.layer.nextPoint;
  checker.layer.disarm();
  checker.note('check: final flush, then the end rules');
  await checker.must('the final flushSource', 'restore-ends-right', () => checker.engine!.flushSource());
  await checker.must('the final flushClone', 'restore-ends-right', () => checker.engine!.flushClone());
  state.sourceModel.flush();
  state.cloneModel.flush();
  const source = await checker.peek('source');
  const clone = await checker.peek('clone');
  checker.judge(() => sourceMatchesModel(state.sourceModel, source, sectorSize));
  // Host writes after the completion (fractured again) may make the pair differ, legitimately.
  if (!state.protect && !state.writtenSinceRestore) checker.judge(() => pairEqual(source, clone, sectorSize, 'restore-ends-right', 'after an unprotected restore'));
  const atStart = state.cloneAtStart;
  if (state.protect && atStart !== undefined && !state.writtenSinceRestore) checker.judge(() => cloneUnchanged(atStart, clone, sectorSize, 'by the end of the protected restore'));
  await checkDeltaCovers(checker, 'after the restore');
  // Rule 4, black box: a second restore with no host writes must leave the pair equal.
  checker.note('check: a second restore with no host writes');
  await checker.must('the second startRestore', 'delta-map-sound', () => checker.engine!.startRestore({ protect: true }));
  await beginRestore(checker, true, state.cloneModel);
  await runToCompletion(checker);
  await checker.must('flushSource after the second restore', 'delta-map-sound', () => checker.engine!.flushSource());
  const [after, cloneAfter] = [await checker.peek('source'), await checker.peek('clone')];
  checker.judge(() => pairEqual(after, cloneAfter, sectorSize, 'delta-map-sound', 'after a second restore with no host writes'));
}

/** Steps until the restore completes; each recovery restarts the count (rule 6). */
async function runToCompletion(checker: Checker): Promise<void> {
  const bound = stepBound(checker.geometry);
  const retries = new FaultRetries(checker.layer);
  let steps = 0;
  let remaining = 0;
  while (checker.state.phase === 'restoring') {
    if (steps++ >= bound) throw new Stop(noProgress(bound, remaining)[0]!);
    const before = checker.state.crashStates;
    // Each step noted, so a transcript (and the HTML report) shows where a recovery ends.
    checker.note('copier: step');
    const out = await takeStep(checker);
    if (out.ok) {
      remaining = out.value.remaining;
      continue;
    }
    // A fault that keeps coming back is removed, and the count of steps starts over.
    if (out.faulted && retries.fault()) steps = 0;
    await checker.settle(out, 'step', 'progress');
    if (checker.state.crashStates !== before) steps = 0;
  }
}
