/**
 * What the server exports: a range of bytes with read, write and flush. The protocol code knows
 * nothing else about it; `engine-export.ts` backs one with a restore engine.
 */
export interface NbdExport {
  /** The name clients select (the empty name selects it too) and a line describing it. */
  readonly name: string;
  readonly description: string;
  /** Bytes; a whole number of `blockSize`s. */
  readonly size: number;
  /** The smallest addressable unit: offsets and lengths must be multiples of it. */
  readonly blockSize: number;
  readonly readOnly: boolean;
  read(offset: number, length: number): Promise<Uint8Array>;
  /** `fua`: durable before this resolves. */
  write(offset: number, data: Uint8Array, fua: boolean): Promise<void>;
  writeZeroes(offset: number, length: number, fua: boolean): Promise<void>;
  /** Every write that has resolved is durable once this resolves. */
  flush(): Promise<void>;
}
