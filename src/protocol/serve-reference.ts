/**
 * The reference engine as an engine process: `--engine-cmd "node dist/src/protocol/serve-reference.js"`.
 * The same engine on both sides of the protocol, so comparing the two measures the protocol alone.
 */
import { referenceEngine } from '../engine/reference/index.js';
import { serveEngine } from './serve-engine.js';

await serveEngine(referenceEngine);
