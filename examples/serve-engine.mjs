// The engine of ./minimal-engine.mjs as an engine process, for
// `prestore ... --engine-cmd "node serve-engine.mjs"`: it speaks the stdio protocol
// (docs/protocol.md), and the harness serves its device I/O and kills it to simulate power loss.
import { serveEngine } from 'protected-restore/serve';
import engine from './minimal-engine.mjs';

await serveEngine(engine);
