/**
 * Which blocks need a downsampled version (Thanos's rule): a raw block spanning at least 40h gets a 5m
 * version, a 5m block spanning at least 10d gets a 1h version, unless blocks of the target resolution
 * already cover every one of its compaction sources. 1h blocks are never downsampled further.
 */
import { ulidTime, type BlockMeta } from '../../tsdb/block/index.js';
import { RES_1H, RES_5M, RES_RAW } from './aggregate.js';
import { blockResolution } from './block.js';

export interface DownsamplePlanOptions {
  /** Smallest raw block range (maxTime - minTime) that gets a 5m version; default 40h. */
  raw5mAfterMs?: number;
  /** Smallest 5m block range that gets a 1h version; default 10d. */
  fiveM1hAfterMs?: number;
  /**
   * Blocks whose ULID is younger than this are left for a later run (they may still be uploading
   * elsewhere), except blocks a compactor made; default 0, the compactor's sync applies its own delay.
   */
  consistencyDelayMs?: number;
  /** Block ULIDs excluded from downsampling (no-downsample-mark.json). */
  noDownsample?: ReadonlySet<string>;
}

export const DEFAULT_RAW_5M_AFTER_MS = 40 * 60 * 60 * 1000;
export const DEFAULT_5M_1H_AFTER_MS = 10 * 24 * 60 * 60 * 1000;

export interface DownsampleJob {
  meta: BlockMeta;
  /** Target resolution in ms. */
  resolution: number;
}

/** Sources that compactor-made or repaired blocks name in `thanos.source` (exempt from the delay). */
const TRUSTED_SOURCES = new Set(['compactor', 'compactor.repair', 'bucket.repair']);

/** The jobs to run, in ULID order. Throws on a block with a resolution other than raw, 5m or 1h. */
export function planDownsampling(metas: Iterable<BlockMeta>, now: number, opts: DownsamplePlanOptions = {}): DownsampleJob[] {
  const raw5m = opts.raw5mAfterMs ?? DEFAULT_RAW_5M_AFTER_MS;
  const fiveM1h = opts.fiveM1hAfterMs ?? DEFAULT_5M_1H_AFTER_MS;
  const delay = opts.consistencyDelayMs ?? 0;
  const list = [...metas];
  const covered5m = new Set<string>();
  const covered1h = new Set<string>();
  for (const m of list) {
    const res = blockResolution(m);
    if (res === RES_RAW) continue;
    if (res === RES_5M) for (const s of sourcesOf(m)) covered5m.add(s);
    else if (res === RES_1H) for (const s of sourcesOf(m)) covered1h.add(s);
    else throw new Error(`block ${m.ulid}: unexpected downsampling resolution ${res} ms (want 0, ${RES_5M} or ${RES_1H})`);
  }
  const jobs: DownsampleJob[] = [];
  const sorted = list.slice().sort((a, b) => (a.ulid < b.ulid ? -1 : a.ulid > b.ulid ? 1 : 0));
  for (const m of sorted) {
    if (opts.noDownsample?.has(m.ulid)) continue;
    if (delay > 0 && !TRUSTED_SOURCES.has(String(m.thanos?.source ?? '')) && now - ulidTime(m.ulid) < delay) continue;
    const res = blockResolution(m);
    const range = m.maxTime - m.minTime;
    if (res === RES_RAW) {
      if (sourcesOf(m).every((s) => covered5m.has(s))) continue;
      if (range < raw5m) continue;
      jobs.push({ meta: m, resolution: RES_5M });
    } else if (res === RES_5M) {
      if (sourcesOf(m).every((s) => covered1h.has(s))) continue;
      if (range < fiveM1h) continue;
      jobs.push({ meta: m, resolution: RES_1H });
    }
  }
  return jobs;
}

/** A block's compaction sources; a block that names none is its own source. */
export function sourcesOf(m: BlockMeta): readonly string[] {
  const s = m.compaction.sources;
  return s !== undefined && s.length > 0 ? s : [m.ulid];
}
