/**
 * The memfs backend: an in-memory file system for file-backed simulated disks. Apart from
 * ./file-device.ts so that code using real files (the image commands) never loads memfs.
 */
import { Volume } from 'memfs';
import type { FileSystemLike } from './file-device.js';

/** A fresh in-memory file system (memfs), for file-backed simulated disks. */
export function memoryFs(): FileSystemLike {
  return new Volume().promises as unknown as FileSystemLike;
}
