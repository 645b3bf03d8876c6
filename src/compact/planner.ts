/**
 * Compaction groups and the per-group planner.
 *
 * Blocks belong to one group per (external labels, downsampling resolution), as in Thanos; compaction never
 * crosses groups. Within a group the planner follows Prometheus's leveled compactor (as Thanos uses it):
 *
 *  1. Overlapping blocks come first: the first run of blocks whose time ranges overlap is merged into one
 *     (vertical compaction), whatever their sizes.
 *  2. Otherwise the newest block (greatest minTime) is left out: it may still be joined by a neighbour that
 *     has not been uploaded yet. For each range after the first (8h, then 2d by default), the remaining
 *     blocks are split into aligned windows of that range; the first window holding two or more blocks is
 *     chosen when its blocks span the whole window (gaps inside allowed) or the window ends at or before
 *     the start of the newest remaining block — a window that can no longer grow.
 *
 * No-compact-marked blocks take no part in vertical compaction; in horizontal compaction they split a
 * window without shifting it (the blocks on either side of them may still merge among themselves).
 */
import { compareUtf8, type BlockMeta } from '../tsdb/block/index.js';

const HOUR = 3_600_000;
/** Prometheus's block ranges 2h, 8h and 2d (Thanos adds 14d by default). */
export const DEFAULT_RANGES: readonly number[] = [2 * HOUR, 8 * HOUR, 48 * HOUR];

export interface CompactionGroup {
  /** `<resolution>@{labels}`, e.g. `0@{cluster="eu1",tenant="a"}`: stable and readable in logs. */
  key: string;
  /** External labels of the group (replica labels removed), as they go into compacted blocks. */
  labels: Record<string, string>;
  /** Downsampling resolution in ms (0 for raw data). */
  resolution: number;
}

/**
 * The group of a block. `replicaLabels` are dropped from the external labels first, so that blocks from
 * the replicas of an HA pair land in one group and are deduplicated by vertical compaction (Thanos's
 * `--deduplication.replica-label`).
 */
export function groupOf(meta: BlockMeta, replicaLabels: readonly string[] = []): CompactionGroup {
  const raw = meta.thanos?.labels ?? {};
  const labels: Record<string, string> = {};
  const names = Object.keys(raw)
    .filter((n) => !replicaLabels.includes(n))
    .sort(compareUtf8);
  for (const n of names) labels[n] = String(raw[n]);
  const resolution = Number(meta.thanos?.downsample?.resolution ?? 0);
  const key = `${resolution}@{${names.map((n) => `${n}=${JSON.stringify(labels[n])}`).join(',')}}`;
  return { key, labels, resolution };
}

export type PlanKind = 'vertical' | 'horizontal';

export interface Plan {
  kind: PlanKind;
  /** Blocks to merge, by minTime. */
  blocks: BlockMeta[];
  /** The range level that chose a horizontal plan (ms). */
  range?: number;
}

/** Orders blocks by minTime, then maxTime, then ULID, so plans do not depend on listing order. */
export function byMinTime(a: BlockMeta, b: BlockMeta): number {
  return a.minTime - b.minTime || a.maxTime - b.maxTime || (a.ulid < b.ulid ? -1 : a.ulid > b.ulid ? 1 : 0);
}

/**
 * The next compaction for one group, or null. `blocks` are the group's blocks without deletion marks;
 * `noCompact` holds the ULIDs of no-compact-marked ones.
 */
export function planGroup(blocks: readonly BlockMeta[], noCompact: ReadonlySet<string>, ranges: readonly number[] = DEFAULT_RANGES): Plan | null {
  checkRanges(ranges);
  const sorted = [...blocks].sort(byMinTime);
  const overlapping = selectOverlapping(sorted.filter((b) => !noCompact.has(b.ulid)));
  if (overlapping.length > 0) return { kind: 'vertical', blocks: overlapping };
  if (sorted.length === 0) return null;
  const chosen = selectForRanges(sorted.slice(0, -1), ranges, noCompact);
  return chosen === null ? null : { kind: 'horizontal', blocks: chosen.blocks, range: chosen.range };
}

function checkRanges(ranges: readonly number[]): void {
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!;
    if (!Number.isSafeInteger(r) || r <= 0) throw new RangeError(`compaction ranges: ${r} is not a positive integer number of ms`);
    if (i > 0 && r % ranges[i - 1]! !== 0) {
      throw new RangeError(`compaction ranges: ${r} ms is not a multiple of the previous range ${ranges[i - 1]} ms`);
    }
  }
}

/** The first run of blocks (sorted by minTime) whose ranges overlap one another; empty when none do. */
export function selectOverlapping(sorted: readonly BlockMeta[]): BlockMeta[] {
  const out: BlockMeta[] = [];
  if (sorted.length < 2) return out;
  let maxT = sorted[0]!.maxTime;
  for (let i = 1; i < sorted.length; i++) {
    const b = sorted[i]!;
    if (b.minTime < maxT) {
      if (out.length === 0) out.push(sorted[i - 1]!);
      out.push(b);
    } else if (out.length > 0) {
      break;
    }
    if (b.maxTime > maxT) maxT = b.maxTime;
  }
  return out;
}

/**
 * Splits blocks (sorted by minTime) into aligned windows of `range`: blocks that fit inside the window
 * starting at the first block's aligned start go together. A block larger than its window is skipped.
 * E.g. range 30 over [0,10) [10,20) [50,60) [90,100) gives [[0,10) [10,20)], [[50,60)], [[90,100)].
 */
export function splitByRange(sorted: readonly BlockMeta[], range: number): BlockMeta[][] {
  const out: BlockMeta[][] = [];
  let i = 0;
  while (i < sorted.length) {
    const start = Math.floor(sorted[i]!.minTime / range) * range;
    const end = start + range;
    if (sorted[i]!.maxTime > end) {
      i++;
      continue;
    }
    const part: BlockMeta[] = [];
    while (i < sorted.length && sorted[i]!.maxTime <= end) part.push(sorted[i++]!);
    out.push(part);
  }
  return out;
}

/** The horizontal choice described at the top of the file, over blocks that exclude the newest one. */
export function selectForRanges(
  sorted: readonly BlockMeta[],
  ranges: readonly number[],
  noCompact: ReadonlySet<string>,
): { blocks: BlockMeta[]; range: number } | null {
  if (ranges.length < 2 || sorted.length === 0) return null;
  const highTime = sorted[sorted.length - 1]!.minTime;
  for (const range of ranges.slice(1)) {
    for (const part of splitByRange(sorted, range)) {
      if (part.length < 2) continue;
      // A block whose earlier compaction failed (Prometheus's `compaction.failed`) keeps its window out.
      if (part.some((b) => b.compaction.failed)) continue;
      const minT = part[0]!.minTime;
      const maxT = part[part.length - 1]!.maxTime;
      if (maxT - minT !== range && maxT > highTime) continue;
      // Marked blocks split the window into runs; the first run of two or more blocks is taken.
      let from = 0;
      for (let j = 0; j <= part.length; j++) {
        if (j < part.length && !noCompact.has(part[j]!.ulid)) continue;
        if (j - from > 1) return { blocks: part.slice(from, j), range };
        from = j + 1;
      }
    }
  }
  return null;
}
