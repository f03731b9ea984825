/**
 * What the harness commands reach outside themselves, behind one seam each, so tests run the
 * commands in-process with a fake harness, fake engine modules and a fixed clock. The binary
 * passes no seams and gets `realSeams`.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { EngineFactory } from '../engine/contract.js';
import type { CampaignOptions, CampaignResult } from '../harness/campaign.js';
import { exhaust } from '../harness/exhaust.js';
import { explore } from '../harness/explore.js';
import { replay, type ReplayOptions } from '../harness/replay.js';
import type { Scenario, Violation } from '../harness/case.js';
import { loadScenarioOrCounterexample } from '../harness/counterexample.js';
import { bundledScenariosDir } from '../harness/scenario-file.js';

export interface ReplayResult {
  readonly violations: readonly Violation[];
  readonly transcript: readonly string[];
  /** How the line's listed crashes do not fit this engine's run; none (or absent) when they fit. */
  readonly unfit?: readonly string[];
}

/** The harness's public face (src/harness/campaign.ts). */
export interface Harness {
  explore(engine: EngineFactory, options: CampaignOptions): Promise<CampaignResult>;
  exhaust(engine: EngineFactory, scenario: Scenario, options: CampaignOptions): Promise<CampaignResult>;
  replay(engine: EngineFactory, line: string, options?: ReplayOptions): Promise<ReplayResult>;
}

/** Loaders of the modules engines come from; each resolves to the module's namespace object. */
export interface EngineModules {
  /** `src/engine/reference/index.js`, exporting `referenceEngine`. */
  reference(): Promise<unknown>;
  /** `src/mutants/catalogue.js`, exporting `mutants`. */
  mutants(): Promise<unknown>;
  /** `src/protocol/stdio-engine.js`, exporting `stdioEngine(command, options?)`. */
  stdio(): Promise<unknown>;
  /** A vendor's module, by file URL. */
  file(url: string): Promise<unknown>;
}

export interface Seams {
  readonly harness: Harness;
  readonly engineModules: EngineModules;
  /** Reads a scenario file (or a counterexample file, as the scenario of its workload) at `path`, naming it `name` in errors. */
  readonly loadScenario: (path: string, name?: string) => Promise<Scenario>;
  /** The directory of the bundled scenarios (`scenarios/` in the package). */
  readonly bundledScenarios: () => string;
  /** Milliseconds from an arbitrary origin, for elapsed times only. */
  readonly now: () => number;
  /** A fresh seed, for `explore` without `--seed`. */
  readonly randomSeed: () => string;
}

/**
 * Imports one of the package's own modules by a computed specifier, so the command line compiles
 * and runs before an optional part of the package (a mutant catalogue, say) exists; using that
 * part then fails with a clear message instead of a stack from the module loader.
 */
async function ownModule(specifier: string, what: string): Promise<unknown> {
  try {
    return await import(specifier);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes(specifier.replace(/^(\.\.\/)+/, ''))) {
      throw new Error(`${what} is not part of this build (module ${specifier} not found)`);
    }
    throw e;
  }
}

export const realSeams: Seams = {
  harness: { explore, exhaust, replay },
  engineModules: {
    reference: () => ownModule('../engine/reference/index.js', 'the reference engine'),
    mutants: () => ownModule('../mutants/catalogue.js', 'the mutant catalogue'),
    stdio: () => ownModule('../protocol/stdio-engine.js', 'the stdio engine adapter'),
    file: (url) => import(url),
  },
  loadScenario: loadScenarioOrCounterexample,
  bundledScenarios: bundledScenariosDir,
  now: () => performance.now(),
  randomSeed: () => randomBytes(4).toString('hex'),
};

/** The seams a command runs with: the test's where given, the real ones elsewhere. */
export function seamsOf(io: { readonly seams?: Partial<Seams> }): Seams {
  return { ...realSeams, ...io.seams };
}
