/**
 * Retention per downsampling resolution, as Thanos applies it: a block is expired once its maxTime is
 * older than now minus the retention of its resolution. 0 (or unset) keeps blocks forever.
 */
import type { BlockMeta } from '../tsdb/block/index.js';

export const RESOLUTION_RAW = 0;
export const RESOLUTION_5M = 300_000;
export const RESOLUTION_1H = 3_600_000;

/** Retention in ms per resolution; 0 or absent means keep forever. */
export interface RetentionPolicy {
  raw?: number;
  fiveMinutes?: number;
  oneHour?: number;
}

export function retentionFor(resolution: number, policy: RetentionPolicy): number {
  const ms = resolution === RESOLUTION_RAW ? policy.raw : resolution === RESOLUTION_5M ? policy.fiveMinutes : resolution === RESOLUTION_1H ? policy.oneHour : 0;
  return ms ?? 0;
}

export function checkRetentionPolicy(policy: RetentionPolicy): void {
  for (const [k, v] of Object.entries(policy)) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) {
      throw new RangeError(`retention.${k}: ${v} is not a non-negative integer number of ms (0 keeps blocks forever)`);
    }
  }
}

/** Blocks (none of them marked for deletion) whose data is entirely older than their retention. */
export function expiredBlocks(metas: readonly BlockMeta[], nowMs: number, policy: RetentionPolicy): BlockMeta[] {
  const out: BlockMeta[] = [];
  for (const m of metas) {
    const keep = retentionFor(Number(m.thanos?.downsample?.resolution ?? 0), policy);
    if (keep > 0 && m.maxTime < nowMs - keep) out.push(m);
  }
  return out;
}
