/**
 * The workload: each host operation goes to the engine and, as its outcome allows, to the model
 * (an acknowledged write is certain, a failed one may or may not have landed), and a host read
 * is judged against the model (rule 2).
 */
import { sectorValue } from '../../../model/volume-model.js';
import type { HostOp, Volume } from '../case.js';
import { engineFailed } from '../oracle/engine-failed.js';
import type { RuleName } from '../oracle/rules.js';
import { type AlongsideValues, readMatchesModel } from '../oracle/reads-right.js';
import { hostWriteData } from '../sector-data.js';
import { type Checker, Stop } from './checker.js';
import type { Outcome } from './engine-port.js';
import { beginRestore, decideStart, noteHostWrite, takeStep } from './restore.js';

export async function applyHostOp(checker: Checker, op: HostOp): Promise<void> {
  switch (op.op) {
    case 'write':
      return runLane(checker, writeLane(checker, op));
    case 'read':
      return runLane(checker, readLane(checker, op));
    case 'flush':
      return runLane(checker, flushLane(checker, op));
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

/**
 * One host read, write or flush as the checker issues it: `call` runs it on the engine, and
 * `conclude` takes its outcome into the model and judges it. Issued alone, it is settled at once
 * (`runLane`); issued alongside others (./together.ts), all are concluded, then settled once.
 */
export interface Lane {
  readonly call: () => Promise<unknown>;
  /** False when the outcome needs no settling (a clone call refused as busy during a restore). */
  conclude(out: Outcome<unknown>): boolean;
  /** The call's name, for a failure: `writeSource`. */
  readonly what: string;
  readonly rule: RuleName;
}

async function runLane(checker: Checker, lane: Lane): Promise<void> {
  const out = await checker.call(lane.call);
  if (lane.conclude(out)) await checker.settle(out, lane.what, lane.rule);
}

function callName(op: string, volume: Volume): string {
  return `${op}${volume === 'source' ? 'Source' : 'Clone'}`;
}

/**
 * A host write. `certain(sector)` false: another write issued alongside it already wrote the
 * sector, and nothing orders the two, so the sector may end with either (the default: certain).
 */
export function writeLane(checker: Checker, op: Extract<HostOp, { op: 'write' }>, certain: (sector: number) => boolean = () => true): Lane {
  const { state, sectorSize } = checker;
  const { volume, sector, sectors, pattern } = op;
  checker.note(`host: write ${volume} sectors ${sector}..${sector + sectors - 1} (w${pattern})${op.alongside ? ' alongside' : ''}`);
  const data = hostWriteData(pattern, sector, sectors, sectorSize);
  // The model's values are taken before the engine holds the buffer: whatever it does with the
  // buffer later cannot change what the host wrote.
  const values = Array.from({ length: sectors }, (_, i) => sectorValue(data.subarray(i * sectorSize, (i + 1) * sectorSize)));
  const offset = sector * sectorSize;
  const mirrored = volume === 'source' && state.phase === 'restoring' && !state.protect;
  const restoring = state.phase === 'restoring';
  if (volume === 'source' && restoring) noteHostWrite(checker, offset, sectors * sectorSize);
  if (state.phase === 'fractured') state.writtenSinceRestore = true;
  return {
    what: callName('write', volume),
    rule: 'reads-right',
    call: () => (volume === 'source' ? checker.engine!.writeSource(offset, data) : checker.engine!.writeClone(offset, data)),
    conclude(out) {
      // Issued alongside a step that ended the restore, the write may have landed before the end
      // (in the restore: refused on the clone, mirrored if unprotected) or after it (fractured).
      const ended = restoring && state.phase === 'fractured';
      if (volume === 'clone' && restoring) {
        if (out.ok && !ended) throw new Stop({ rule: 'clone-preserved', message: `writeClone was accepted during a restore (sectors ${sector}..${sector + sectors - 1}); it must fail with "clone busy"` });
        if (!out.ok && out.busy) return false;
      }
      if (ended) state.writtenSinceRestore = true;
      const model = volume === 'source' ? state.sourceModel : state.cloneModel;
      values.forEach((value, i) => {
        const sure = out.ok && certain(sector + i);
        if (sure) model.write(sector + i, value);
        else model.uncertainWrite(sector + i, value);
        if (mirrored) {
          if (sure && !ended) state.cloneModel.write(sector + i, value);
          else state.cloneModel.uncertainWrite(sector + i, value);
        }
      });
      return true;
    },
  };
}

/** A host read; `alongside`: the values writes issued with it may put in a sector. */
export function readLane(checker: Checker, op: Extract<HostOp, { op: 'read' }>, alongside?: AlongsideValues): Lane {
  const { state, sectorSize } = checker;
  const { volume, sector, sectors } = op;
  checker.note(`host: read ${volume} sectors ${sector}..${sector + sectors - 1}${op.alongside ? ' alongside' : ''}`);
  const offset = sector * sectorSize;
  const length = sectors * sectorSize;
  const restoring = state.phase === 'restoring';
  return {
    what: callName('read', volume),
    rule: 'reads-right',
    call: () => (volume === 'source' ? checker.engine!.readSource(offset, length) : checker.engine!.readClone(offset, length)),
    conclude(out) {
      if (out.ok) checker.judge(() => readMatchesModel(volume === 'source' ? state.sourceModel : state.cloneModel, `a host read of the ${volume}`, sector, out.value as Uint8Array, sectorSize, 'reads-right', alongside));
      return !(!out.ok && out.busy && volume === 'clone' && restoring);
    },
  };
}

/** A host flush: it makes durable what was acknowledged before it, so a write issued alongside it is not covered. */
export function flushLane(checker: Checker, op: Extract<HostOp, { op: 'flush' }>): Lane {
  const { state } = checker;
  const { volume } = op;
  checker.note(`host: flush ${volume}${op.alongside ? ' alongside' : ''}`);
  const restoring = state.phase === 'restoring';
  const unprotected = restoring && !state.protect;
  return {
    what: callName('flush', volume),
    rule: 'reads-right',
    call: () => (volume === 'source' ? checker.engine!.flushSource() : checker.engine!.flushClone()),
    conclude(out) {
      if (!out.ok && out.busy && volume === 'clone' && restoring) return false;
      if (out.ok) {
        if (volume === 'source') state.sourceModel.flush();
        // Unprotected, the clone carries the mirror of every source write: a source flush covers it.
        if (volume === 'clone' || unprotected) state.cloneModel.flush();
      }
      return true;
    },
  };
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
