/**
 * The checker's state is copied whole: a resumed crash state takes over a copy of the state
 * recorded before the call the crash interrupts, and many crash states resume from one record.
 */
import { describe, expect, it } from 'vitest';
import { VolumeModel } from '../../../model/volume-model.js';
import { type CheckerState, copyState, initialState } from './state.js';

function busyState(): CheckerState {
  const state = initialState(new VolumeModel(['s0', 's1']), new VolumeModel(['c0', 'c1']));
  state.sourceModel.write(0, 'w');
  Object.assign(state, {
    phase: 'restoring',
    protect: false,
    restoresStarted: 2,
    cloneAtStart: new Uint8Array([1, 2, 3]),
    copyAllowed: new Set([1, 4]),
    hostWritten: new Set([4]),
    writtenSinceRestore: true,
    restoreTraceFrom: 7,
    traceChecked: 9,
    pendingStart: { protect: true, cloneBefore: new VolumeModel(['p0', 'p1']) },
    crashStates: 3,
    resolvedCrashes: [{ point: 5, mode: 'subset', choice: { mode: 'subset', survivors: [{ point: 4 }] } }],
    resolvedOps: [{ op: 'powerLoss', mode: 'drop', choice: { mode: 'drop', survivors: [] } }],
    log: [{ point: 3, text: 'host: flush source' }],
    opStarts: [0, 4],
    armedEnd: 11,
  } satisfies Partial<CheckerState>);
  return state;
}

describe('copyState', () => {
  it('copies every field, equal and independent of the original', () => {
    const state = busyState();
    const copy = copyState(state);
    expect(copy).toEqual(state);
    for (const key of Object.keys(state) as (keyof CheckerState)[]) {
      const value = state[key];
      if (typeof value === 'object' && value !== null) expect(copy[key], key).not.toBe(value);
    }
    copy.sourceModel.write(1, 'x');
    copy.pendingStart!.cloneBefore.write(0, 'y');
    copy.copyAllowed!.add(6);
    copy.cloneAtStart![0] = 9;
    copy.log.push({ point: 4, text: 'more' });
    expect(copyState(state)).toEqual(busyState());
  });

  it('refuses a field it does not know how to copy, rather than share it', () => {
    const state = { ...initialState(new VolumeModel([]), new VolumeModel([])), extra: new Map() };
    expect(() => copyState(state)).toThrow('the checker cannot copy state.extra, a Map');
  });
});
