/**
 * The workload: each host operation goes to the engine and, as its outcome allows, to the model
 * (an acknowledged write is certain, a failed one may or may not have landed), and a host read
 * is judged against the model (rule 2).
 */
import { sectorValue } from '../../../model/volume-model.js';
import type { HostOp, Volume } from '../case.js';
import { engineFailed } from '../oracle/engine-failed.js';
import { readMatchesModel } from '../oracle/reads-right.js';
import { hostWriteData } from '../sector-data.js';
import { type Checker, Stop } from './checker.js';
import { beginRestore, decideStart, noteHostWrite, takeStep } from './restore.js';

export async function applyHostOp(checker: Checker, op: HostOp): Promise<void> {
  switch (op.op) {
    case 'write':
      return write(checker, op.volume, op.sector, op.sectors, op.pattern);
    case 'read':
      return read(checker, op.volume, op.sector, op.sectors);
    case 'flush':
      return flush(checker, op.volume);
    case 'startRestore':
      return startRestore(checker, op.protect);
    case 'step':
      for (let i = 0; i < (op.count ?? 1) && checker.state.phase === 'restoring'; i++) await step(checker);
      return;
    case 'powerLoss': {
      checker.note(`host: power loss (${op.mode})`);
      const choice = op.choice ?? checker.layer.chooseCrashState(op.mode);
      checker.state.resolvedOps.push({ ...op, choice });
      return checker.powerLost(op.mode, choice);
    }
  }
}

async function write(checker: Checker, volume: Volume, sector: number, sectors: number, pattern: number): Promise<void> {
  const { state, sectorSize } = checker;
  checker.note(`host: write ${volume} sectors ${sector}..${sector + sectors - 1} (w${pattern})`);
  const data = hostWriteData(pattern, sector, sectors, sectorSize);
  // The model's values are taken before the engine holds the buffer: whatever it does with the
  // buffer later cannot change what the host wrote.
  const values = Array.from({ length: sectors }, (_, i) => sectorValue(data.subarray(i * sectorSize, (i + 1) * sectorSize)));
  const offset = sector * sectorSize;
  const mirrored = volume === 'source' && state.phase === 'restoring' && !state.protect;
  if (volume === 'source' && state.phase === 'restoring') noteHostWrite(checker, offset, sectors * sectorSize);
  if (state.phase === 'fractured') state.writtenSinceRestore = true;
  const out = await checker.call(() => (volume === 'source' ? checker.engine!.writeSource(offset, data) : checker.engine!.writeClone(offset, data)));
  if (volume === 'clone' && state.phase === 'restoring') {
    if (out.ok) throw new Stop({ rule: 'clone-preserved', message: `writeClone was accepted during a restore (sectors ${sector}..${sector + sectors - 1}); it must fail with "clone busy"` });
    if (out.busy) return;
  }
  const model = volume === 'source' ? state.sourceModel : state.cloneModel;
  values.forEach((value, i) => {
    if (out.ok) model.write(sector + i, value);
    else model.uncertainWrite(sector + i, value);
    if (mirrored) {
      if (out.ok) state.cloneModel.write(sector + i, value);
      else state.cloneModel.uncertainWrite(sector + i, value);
    }
  });
  await checker.settle(out, `write${volume === 'source' ? 'Source' : 'Clone'}`, 'reads-right');
}

async function read(checker: Checker, volume: Volume, sector: number, sectors: number): Promise<void> {
  const { state, sectorSize } = checker;
  checker.note(`host: read ${volume} sectors ${sector}..${sector + sectors - 1}`);
  const offset = sector * sectorSize;
  const length = sectors * sectorSize;
  const out = await checker.call(() => (volume === 'source' ? checker.engine!.readSource(offset, length) : checker.engine!.readClone(offset, length)));
  if (out.ok) checker.judge(() => readMatchesModel(volume === 'source' ? state.sourceModel : state.cloneModel, `a host read of the ${volume}`, sector, out.value, sectorSize));
  if (!out.ok && out.busy && volume === 'clone' && state.phase === 'restoring') return;
  await checker.settle(out, `read${volume === 'source' ? 'Source' : 'Clone'}`, 'reads-right');
}

async function flush(checker: Checker, volume: Volume): Promise<void> {
  const { state } = checker;
  checker.note(`host: flush ${volume}`);
  const out = await checker.call(() => (volume === 'source' ? checker.engine!.flushSource() : checker.engine!.flushClone()));
  if (!out.ok && out.busy && volume === 'clone' && state.phase === 'restoring') return;
  if (out.ok) {
    if (volume === 'source') state.sourceModel.flush();
    // Unprotected, the clone carries the mirror of every source write: a source flush covers it.
    if (volume === 'clone' || (state.phase === 'restoring' && !state.protect)) state.cloneModel.flush();
  }
  await checker.settle(out, `flush${volume === 'source' ? 'Source' : 'Clone'}`, 'reads-right');
}

export async function startRestore(checker: Checker, protect: boolean): Promise<void> {
  const { state } = checker;
  if (state.phase === 'restoring') return;
  checker.note(`host: startRestore({ protect: ${protect} })`);
  state.pendingStart = { protect, cloneBefore: state.cloneModel.copy() };
  state.restoreTraceFrom = checker.layer.trace.length;
  const out = await checker.call(() => checker.engine!.startRestore({ protect }));
  if (out.ok) {
    state.pendingStart = undefined;
    await beginRestore(checker, protect, state.cloneModel);
    checker.checkRestoreTrace();
    return;
  }
  if (out.crashed) return checker.powerLost();
  if (!out.faulted) throw new Stop(engineFailed('startRestore', out.error, 'progress'), true);
  const status = await checker.must('status after a failed startRestore', 'atomic-start', () => checker.engine!.status());
  // A crash while asking may already have decided the start, during recovery.
  if (state.pendingStart !== undefined) await decideStart(checker, status);
}

async function step(checker: Checker): Promise<void> {
  checker.note('engine: step');
  const out = await takeStep(checker);
  if (!out.ok) await checker.settle(out, 'step', 'progress');
}
