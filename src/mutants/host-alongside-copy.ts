/**
 * Mutants of the reference engine's `concurrentHost` mode (host I/O served while a step copies):
 * each breaks one of the exclusions between the copier and a host write. They run with the mode
 * on; with it off no host write ever meets a copy in flight, and neither bug can show. Only a
 * workload that issues host I/O alongside a step (`alongside`) catches them: the sequential
 * harness awaits each step before the next host operation (src/mutants/host-alongside-copy.test.ts
 * shows both halves; the bundled scenario `host-alongside-copy` catches both).
 */
import { createReferenceEngine, ReferenceEngine } from '../engine/reference/index.js';
import type { RuleName } from '../harness/case.js';
import type { EngineClass, Mutant } from './mutant.js';

function concurrentMutant(name: string, rule: RuleName, description: string, Engine: EngineClass): Mutant {
  return { name, rule, description, factory: createReferenceEngine({ concurrentHost: 1 }, `mutant:${name}`, Engine) };
}

export const hostAlongsideCopyMutants: readonly Mutant[] = [
  concurrentMutant(
    'copier-ignores-host-write',
    'reads-right',
    'a host write to an extent whose copy is in flight does not wait for the copy: the copier\'s source write of the clone\'s data is issued after the host\'s write and lands over it, and once P marks the extent reads return the clone\'s data, not what the host wrote',
    class extends ReferenceEngine {
      protected override async waitForCopier(): Promise<void> {}
    },
  ),
  concurrentMutant(
    'clear-protected-copies',
    'delta-map-sound',
    'a step clears D for its whole batch, even for extents a host write protected while the copy was in flight: P is set without D, so completion leaves the host-written extent with D clear, and the next restore never copies it back',
    class extends ReferenceEngine {
      protected override stillUncopied(batch: readonly number[]): number[] {
        return [...batch];
      }
    },
  ),
];
