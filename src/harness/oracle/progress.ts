/**
 * Rule 6, progress: after recovery the restore completes within a bounded number of steps (no
 * livelock, no lost extents). An open, a start or a step that fails for no reason is no progress
 * either (./engine-failed.ts).
 */
import { extentCount, type Geometry } from '../../engine/contract.js';
import type { Finding } from './finding.js';

/** Every extent copied once per step, twice over, plus slack for steps that only commit. */
export function stepBound(geometry: Geometry): number {
  return 2 * extentCount(geometry) + 8;
}

export function noProgress(steps: number, remaining: number): Finding[] {
  return [{ rule: 'progress', message: `the restore did not complete within ${steps} steps after recovery (${remaining} extents still reported remaining)` }];
}
