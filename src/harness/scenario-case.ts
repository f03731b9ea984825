/** The case a scenario describes, as `exhaust` runs it against one engine. */
import type { EngineFactory } from '../engine/contract.js';
import type { Case, Scenario } from './case.js';

/**
 * The scenario's workload with no crash or error planned, on its devices. Its engine options tune
 * an engine that takes options; any other engine runs the same workload in its own configuration
 * (and its replay lines carry no options it would refuse).
 */
export function scenarioCase(scenario: Scenario, engine: EngineFactory): Case {
  return {
    geometry: scenario.geometry,
    initial: scenario.initial,
    workload: scenario.workload,
    crashes: [],
    eio: [],
    ...(scenario.profile === undefined ? {} : { profile: scenario.profile }),
    ...(scenario.engineOptions === undefined || engine.withOptions === undefined ? {} : { engineOptions: scenario.engineOptions }),
  };
}
