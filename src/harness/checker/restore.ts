/**
 * The restore as the checker follows it: when it takes effect (and what the models become), how
 * an interrupted start is decided, each copy step, its end, and what D allows it to copy.
 */
import type { VolumeModel } from '../../../model/volume-model.js';
import { type EngineStatus, extentsOf, type StepResult } from '../../engine/contract.js';
import { startBranch } from '../oracle/atomic-start.js';
import { deltaCoversDifferences } from '../oracle/delta-map-sound.js';
import { readMatchesModel } from '../oracle/reads-right.js';
import type { Checker } from './checker.js';
import type { Outcome } from './engine-port.js';

/**
 * A restore took effect with `cloneModel` as the clone's content: the clone is durable and the
 * source's logical content is the clone's, durably. The clone device must hold exactly that.
 */
export async function beginRestore(checker: Checker, protect: boolean, cloneModel: VolumeModel): Promise<void> {
  const s = checker.state;
  s.phase = 'restoring';
  s.protect = protect;
  s.restoresStarted++;
  s.hostWritten = new Set();
  s.writtenSinceRestore = false;
  s.copyAllowed = undefined;
  s.cloneModel = cloneModel;
  s.cloneModel.flush();
  s.sourceModel.assignFrom(s.cloneModel);
  const image = await checker.peek('clone');
  checker.judge(() => readMatchesModel(s.cloneModel, 'the clone device at the start of the restore', 0, image, checker.sectorSize, 'clone-preserved'));
  s.cloneAtStart = image;
  await captureDeltaAtStart(checker);
}

/** After a crash or error inside startRestore, `status` says which way the start went (rule 7). */
export async function decideStart(checker: Checker, status: EngineStatus): Promise<void> {
  const pending = checker.state.pendingStart!;
  checker.state.pendingStart = undefined;
  const { branch, findings } = startBranch(status, pending.protect);
  checker.judge(() => findings);
  checker.note(`the interrupted startRestore ${branch === 'restoring' ? 'took effect' : 'rolled back'}`);
  if (branch === 'restoring') await beginRestore(checker, pending.protect, pending.cloneBefore);
}

/** One copy step. A step that succeeded has its I/O judged, and may end the restore. */
export async function takeStep(checker: Checker): Promise<Outcome<StepResult>> {
  const out = await checker.call(() => checker.engine!.step());
  if (out.ok) {
    checker.checkRestoreTrace();
    if (out.value.done) {
      checker.note('the restore completed');
      restoreEnded(checker);
    }
  }
  return out;
}

export function restoreEnded(checker: Checker): void {
  checker.checkRestoreTrace();
  checker.state.phase = 'fractured';
  checker.state.copyAllowed = undefined;
}

/** A host write to the source during the restore: the engine may copy those extents too (rule 5). */
export function noteHostWrite(checker: Checker, offset: number, length: number): void {
  const { first, last } = extentsOf(checker.geometry, offset, length);
  for (let e = first; e <= last; e++) {
    checker.state.hostWritten.add(e);
    checker.state.copyAllowed?.add(e);
  }
}

async function captureDeltaAtStart(checker: Checker): Promise<void> {
  if (checker.engine?.inspect === undefined) return;
  const maps = await checker.must('inspect', 'only-differing-copied', () => checker.engine!.inspect!());
  const allowed = new Set([...checker.state.hostWritten]);
  maps.delta.forEach((bit, extent) => bit && allowed.add(extent));
  checker.state.copyAllowed = allowed;
}

/**
 * A D bit whose setting failed (an EIO on the metadata flush) may have reached the disk anyway,
 * so after a crash D at the start of the restore is known only up to such bits: the D bits
 * recovery finds are allowed too. Over-approximating D is allowed; under-approximating is not.
 */
export async function widenCopyAllowed(checker: Checker): Promise<void> {
  if (checker.engine?.inspect === undefined || checker.state.copyAllowed === undefined) return;
  const maps = await checker.must('inspect', 'only-differing-copied', () => checker.engine!.inspect!());
  maps.delta.forEach((bit, extent) => bit && checker.state.copyAllowed!.add(extent));
}

/** Rule 4, white box: every extent where source and clone differ has its D bit set. */
export async function checkDeltaCovers(checker: Checker, when: string): Promise<void> {
  if (checker.engine?.inspect === undefined) return;
  const maps = await checker.must('inspect', 'delta-map-sound', () => checker.engine!.inspect!());
  const [source, clone] = [await checker.peek('source'), await checker.peek('clone')];
  checker.judge(() => deltaCoversDifferences(checker.geometry, source, clone, maps.delta, when));
}
