/**
 * The reference engine with `deferProtection` on (P bits made durable at the host's flush), as
 * a module `--engine` loads, so the harness judges that mode as it judges the default:
 *
 *   prestore exhaust scenarios/ --engine ./dist/src/engine/reference/deferred.js
 *   prestore explore --engine ./dist/src/engine/reference/deferred.js
 */
import { createReferenceEngine } from './index.js';

export const engine = createReferenceEngine({ deferProtection: true }, 'reference-deferred');
export default engine;
