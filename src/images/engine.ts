/**
 * The engine image files run on: the reference engine, tuned for disks rather than for the
 * harness. A step copies a large batch (one source flush and one map commit per batch, instead
 * of per extent), in 1 MiB I/Os with a few in flight. Memory stays bounded by maxIoBytes ×
 * queueDepth, whatever the image size. Measured on 1 GiB (src/bench/image.ts): 1 MiB I/Os copy
 * as fast as 8 MiB ones, and every read is a fresh buffer, so 8 MiB ones left the garbage
 * collector behind, with peak RSS 150-185 MB against about 90 MB.
 *
 * Host writes (`prestore serve`) have their P bits made durable at the host's flush, not before
 * each write is answered (`deferProtection`): an NBD client is told of the write cache and
 * flushes what must last, and the first write to each extent then costs no flush of its own.
 * Extents the host reads repeatedly before the copier reaches them are copied ahead of its order
 * (src/engine/reference/copy-ahead.ts).
 */
import { type EngineFactory, extentBytes, type Geometry } from '../engine/contract.js';
import { CopyAheadEngine } from '../engine/reference/copy-ahead.js';
import { createReferenceEngine } from '../engine/reference/index.js';

/** Bytes per step: what a crash may have to copy again, and what one map commit covers. */
export const DEFAULT_BATCH_BYTES = 64 << 20;
export const MAX_IO_BYTES = 1 << 20;
export const QUEUE_DEPTH = 4;
export const IMAGE_ENGINE_NAME = 'reference';

export function imageEngine(geometry: Geometry, batchBytes = DEFAULT_BATCH_BYTES): EngineFactory {
  const copyBatch = Math.max(1, Math.floor(batchBytes / extentBytes(geometry)));
  return createReferenceEngine({ copyBatch, maxIoBytes: Math.min(MAX_IO_BYTES, batchBytes), queueDepth: QUEUE_DEPTH, deferProtection: true }, IMAGE_ENGINE_NAME, CopyAheadEngine);
}
