/**
 * The package's public face: the engine contract a vendor implements (types checked at compile
 * time), the block devices and the fault layer, the reference engine, and the harness's campaigns
 * for driving an engine from code instead of the command line.
 */
export * from './engine/contract.js';
export type { BlockDevice, WriteOptions } from './devices/block-device.js';
export { MemoryDevice } from './devices/memory-device.js';
export { CACHE_MODES, type CacheMode, CrashError, EioError, FaultLayer, type FaultPlan, type SurvivalChoice, type TraceEntry } from './devices/fault-layer.js';
export { createReferenceEngine, ReferenceEngine, referenceEngine, type ReferenceOptions } from './engine/reference/index.js';
export { mutants, type Mutant } from './mutants/catalogue.js';
export type { CampaignOptions, CampaignResult } from './harness/campaign.js';
export { type CallMonitor, DEFAULT_CALL_TIMEOUT_MS, type GuardOptions, MAX_METADATA_BYTES } from './harness/engine-guard.js';
export { EngineMisbehaviourError, InputError } from './errors.js';
export type { ReplayOptions } from './harness/replay.js';
export { exhaust } from './harness/exhaust.js';
export { explore } from './harness/explore.js';
export { replay } from './harness/replay.js';
export { RULES, type Case, type HostOp, type RuleName, type Scenario, type Violation } from './harness/case.js';
export { runCase } from './harness/run-case.js';
export { loadScenario } from './harness/scenario-file.js';
export { EngineProtocolError, stdioEngine } from './protocol/stdio-engine.js';
export { serveEngine } from './protocol/serve-engine.js';
