/**
 * A deterministic partition of a campaign's work, so that n CI jobs each run one shard: unit k
 * (a run of explore, a distinct crash state of exhaust, counted from 0) belongs to shard
 * (k mod n) + 1. Shards never overlap and together are the whole run, whatever n is.
 */
export interface Shard {
  /** 1 to count. */
  readonly index: number;
  readonly count: number;
}

/** `i/n` as the command line takes it, or why not. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (m === null) throw new Error(`--shard ${JSON.stringify(text)}: expected i/n, such as 2/4`);
  const [index, count] = [Number(m[1]), Number(m[2])];
  if (count < 1 || index < 1 || index > count) throw new Error(`--shard ${text}: i must be between 1 and n, and n at least 1`);
  return { index, count };
}

export function formatShard(shard: Shard): string {
  return `${shard.index}/${shard.count}`;
}

/** Whether unit `k` of the run is this shard's (every unit is, without a shard). */
export function owns(shard: Shard | undefined, k: number): boolean {
  return shard === undefined || k % shard.count === shard.index - 1;
}

/** Work done once per run (exhaust's recorded run) belongs to the first shard. */
export function ownsShared(shard: Shard | undefined): boolean {
  return shard === undefined || shard.index === 1;
}
