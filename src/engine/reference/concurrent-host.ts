/**
 * The reference engine serving host I/O while its copier works (`concurrentHost`), with several
 * copy I/Os in flight, as a module `--engine` loads, so the harness judges that configuration as
 * it judges the default (scenarios that set engine options still override these):
 *
 *   prestore exhaust scenarios/ --engine ./dist/src/engine/reference/concurrent-host.js
 *   prestore explore --engine ./dist/src/engine/reference/concurrent-host.js --device-profile nvme-4k-atomic
 */
import { createReferenceEngine } from './index.js';

export const engine = createReferenceEngine({ concurrentHost: 1, queueDepth: 4, copyBatch: 4 }, 'reference-concurrent-host');
export default engine;
