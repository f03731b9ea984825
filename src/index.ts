/**
 * The package's public face: the engine contract a vendor implements (types checked at compile
 * time; docs/contract.md says what each call must guarantee), the block devices and the fault
 * layer (docs/fault-model.md), the reference engine, the harness's campaigns for driving an engine
 * from code, and what a test suite needs: `checkEngine`, the bundled scenarios, scenario and
 * counterexample files, and the report writers the command line uses.
 */
export * from './engine/contract.js';
export type { BlockDevice, WriteOptions } from './devices/block-device.js';
export { MemoryDevice } from './devices/memory-device.js';
export { CACHE_MODES, type CacheMode, CrashError, EioError, FaultLayer, type FaultPlan, type SurvivalChoice, type TraceEntry } from './devices/fault-layer.js';
export { createReferenceEngine, ReferenceEngine, referenceEngine, type ReferenceOptions } from './engine/reference/index.js';
export { mutants, type Mutant } from './mutants/catalogue.js';
export type { CampaignOptions, CampaignResult } from './harness/campaign.js';
export { type CallMonitor, DEFAULT_CALL_TIMEOUT_MS, type GuardOptions, MAX_METADATA_BYTES } from './harness/engine-guard.js';
export type { ReplayOptions } from './harness/replay.js';
export { exhaust } from './harness/exhaust.js';
export { explore } from './harness/explore.js';
export { replay } from './harness/replay.js';
export { RULES, type Case, type HostOp, type RuleName, type Scenario, type Violation } from './harness/case.js';
export { runCase } from './harness/run-case.js';
export { bundledScenariosDir, loadScenario, parseScenario, schemaPath, type FileOp, type ScenarioFile } from './harness/scenario-file.js';
export {
  type CounterexampleFile,
  type CounterexampleReplay,
  counterexampleFileName,
  counterexampleOf,
  counterexampleSchemaPath,
  formatCounterexample,
  loadCounterexample,
  parseCounterexample,
  type Provenance,
  replayCounterexample,
} from './harness/counterexample.js';
export { checkEngine, type CheckEngineOptions, type EngineCheck } from './check-engine.js';
export type { Progress } from './harness/campaign.js';
export { distinctFailures, type Failure } from './cli/failures.js';
export { jsonReport, junitReport, type Part, type RunReport } from './cli/report.js';
export { saveFailures } from './cli/save-failures.js';
export { formatViolation, summaryLines } from './cli/summary.js';
export { EngineMisbehaviourError, InputError, UsageError } from './errors.js';
export { EngineProtocolError, stdioEngine } from './protocol/stdio-engine.js';
export { serveEngine } from './protocol/serve-engine.js';
