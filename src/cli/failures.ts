/**
 * The distinct failures of a run: what a person reads, and what `--save-failures` writes, one file
 * each. An exhaustive search finds many crash states breaking one rule for one reason; the first
 * violation of each rule in each scenario is the one the harness shrinks to a minimal case
 * (explore has one violation, shrunk), and that is the failure reported. The other violations of
 * that rule in that scenario are the same failure reached from other crash states: counted, and
 * listed by `--json`, not printed. Two scenarios whose minimal cases are the same case (one
 * workload begins as the other's) report it once, naming both.
 */
import type { Violation } from '../harness/case.js';

export interface Failure<V extends Violation = Violation> {
  /** The first violation of its rule in the first part that found it: shrunk, when it was shrunk. */
  readonly violation: V;
  /** The parts (scenario names, or `explore`) that found it. */
  readonly where: readonly string[];
  /** Further violations of the same rule in those parts: the same failure from other crash states. */
  readonly alsoSeen: number;
}

/** The case a replay line carries, without the engine flags: equal cases are one failure. */
function caseToken(v: Violation): string {
  return v.replay.trim().split(/\s+/).pop() ?? v.replay;
}

export function distinctFailures<V extends Violation>(parts: readonly { readonly name: string; readonly violations: readonly V[] }[]): Failure<V>[] {
  const byCase = new Map<string, { violation: V; where: string[]; alsoSeen: number }>();
  for (const part of parts) {
    const rules = new Map<string, { where: string[]; alsoSeen: number }>();
    for (const v of part.violations) {
      const first = rules.get(v.rule);
      if (first !== undefined) {
        first.alsoSeen++;
        continue;
      }
      const key = caseToken(v);
      const known = byCase.get(key);
      if (known === undefined) {
        const failure = { violation: v, where: [part.name], alsoSeen: 0 };
        byCase.set(key, failure);
        rules.set(v.rule, failure);
      } else {
        if (!known.where.includes(part.name)) known.where.push(part.name);
        rules.set(v.rule, known);
      }
    }
  }
  return [...byCase.values()];
}
