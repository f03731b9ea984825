/** What a mutant engine is, and the helpers every mutant family builds on. */
import { createReferenceEngine, ReferenceEngine } from '../engine/reference/index.js';
import type { RuleName } from '../harness/case.js';
import type { EngineFactory } from '../engine/contract.js';

export interface Mutant {
  readonly name: string;
  /** The bug, as a reviewer would describe it. */
  readonly description: string;
  /** The rule expected to catch it (another may catch it first; any violation kills it). */
  readonly rule: RuleName;
  readonly factory: EngineFactory;
}

export type EngineClass = new (...args: ConstructorParameters<typeof ReferenceEngine>) => ReferenceEngine;

export function mutant(name: string, rule: RuleName, description: string, Engine: EngineClass): Mutant {
  return { name, rule, description, factory: createReferenceEngine({}, `mutant:${name}`, Engine) };
}

/** Metadata writes left in the cache for the length of one call: "the flush happens later". */
export class LazyMetadata extends ReferenceEngine {
  protected lazy = false;

  protected override async syncMetadata(): Promise<void> {
    if (!this.lazy) await super.syncMetadata();
  }

  protected async lazily(fn: () => Promise<void>): Promise<void> {
    this.lazy = true;
    try {
      await fn();
    } finally {
      this.lazy = false;
    }
  }
}

