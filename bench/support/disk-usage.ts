/**
 * Bytes on disk for the storage benchmark: file trees (apparent size, as `du -b`, and allocated blocks,
 * as `du`) and the TSDB blocks under a directory (Prometheus data dir, Argus local blocks, a Thanos-layout
 * bucket directory), read from their meta.json.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface TreeSize {
  files: number;
  /** Sum of file sizes (`du -b`). */
  bytes: number;
  /** Allocated blocks × 512 (`du -B1`). */
  allocated: number;
}

const EMPTY = (): TreeSize => ({ files: 0, bytes: 0, allocated: 0 });

function add(a: TreeSize, b: TreeSize): void {
  a.files += b.files;
  a.bytes += b.bytes;
  a.allocated += b.allocated;
}

/** Size of the regular files under `path` (a file or a directory; symlinks are not followed). Missing → 0. */
export async function treeSize(path: string): Promise<TreeSize> {
  const out = EMPTY();
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw err;
  }
  if (st.isFile()) return { files: 1, bytes: st.size, allocated: st.blocks * 512 };
  if (!st.isDirectory()) return out;
  let names: string[];
  try {
    names = await readdir(path);
  } catch (err) {
    // Removed while we walked (a compactor deleting a block): it no longer counts.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw err;
  }
  for (const name of names) add(out, await treeSize(join(path, name)));
  return out;
}

/** Sum of several trees. */
export async function treesSize(paths: readonly string[]): Promise<TreeSize> {
  const out = EMPTY();
  for (const p of paths) add(out, await treeSize(p));
  return out;
}

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

export interface BlockOnDisk {
  ulid: string;
  dir: string;
  minTime: number;
  maxTime: number;
  numSamples: number;
  numSeries: number;
  numChunks: number;
  level: number;
  /** Thanos downsampling resolution (ms); 0 for raw data. */
  resolution: number;
  /** ULIDs of the 2h blocks this one was compacted from. */
  sources: string[];
  /** Has a Thanos `deletion-mark.json` (the compactor has replaced it; it is deleted after a delay). */
  deletionMarked: boolean;
  /** Has a Thanos `no-compact-mark.json` (the compactor leaves it alone). */
  noCompactMarked: boolean;
  /** meta.json as read. */
  metaJson: string;
  size: TreeSize;
  /** The chunk segments (chunks/) and the index file: where the bytes go. */
  chunkBytes: number;
  indexBytes: number;
}

interface MetaJson {
  ulid?: string;
  minTime?: number;
  maxTime?: number;
  stats?: { numSamples?: number; numSeries?: number; numChunks?: number };
  compaction?: { level?: number; sources?: string[] };
  thanos?: { downsample?: { resolution?: number } };
}

/**
 * The blocks (ULID-named directories holding a meta.json) under `root`, searched `depth` directory levels
 * deep (1: `root/<ULID>` as in a Prometheus data dir or a bucket; 2: also `root/<tenant>/<ULID>`).
 * Directories whose meta.json is missing or unreadable (a block being written) are skipped and counted.
 */
export async function findBlocks(root: string, depth = 1): Promise<{ blocks: BlockOnDisk[]; incomplete: number }> {
  const blocks: BlockOnDisk[] = [];
  let incomplete = 0;
  const walk = async (dir: string, left: number): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw err;
    }
    for (const name of names.sort()) {
      const p = join(dir, name);
      if (!ULID.test(name)) {
        if (left > 1 && !name.startsWith('.')) await walk(p, left - 1);
        continue;
      }
      let meta: MetaJson;
      let metaJson: string;
      try {
        metaJson = await readFile(join(p, 'meta.json'), 'utf8');
        meta = JSON.parse(metaJson) as MetaJson;
      } catch {
        incomplete++;
        continue;
      }
      const exists = (f: string): Promise<boolean> =>
        lstat(join(p, f)).then(
          () => true,
          () => false,
        );
      blocks.push({
        ulid: name,
        dir: p,
        minTime: Number(meta.minTime),
        maxTime: Number(meta.maxTime),
        numSamples: Number(meta.stats?.numSamples ?? 0),
        numSeries: Number(meta.stats?.numSeries ?? 0),
        numChunks: Number(meta.stats?.numChunks ?? 0),
        level: Number(meta.compaction?.level ?? 1),
        resolution: Number(meta.thanos?.downsample?.resolution ?? 0),
        sources: meta.compaction?.sources ?? [name],
        deletionMarked: await exists('deletion-mark.json'),
        noCompactMarked: await exists('no-compact-mark.json'),
        metaJson,
        size: await treeSize(p),
        chunkBytes: (await treeSize(join(p, 'chunks'))).bytes,
        indexBytes: (await treeSize(join(p, 'index'))).bytes,
      });
    }
  };
  await walk(root, depth);
  blocks.sort((a, b) => a.minTime - b.minTime || a.maxTime - b.maxTime);
  return { blocks, incomplete };
}

/** Totals over blocks. */
export function blockTotals(blocks: readonly BlockOnDisk[]): {
  samples: number;
  series: number;
  chunks: number;
  size: TreeSize;
  chunkBytes: number;
  indexBytes: number;
} {
  const size = EMPTY();
  let samples = 0;
  let chunks = 0;
  let series = 0;
  let chunkBytes = 0;
  let indexBytes = 0;
  for (const b of blocks) {
    add(size, b.size);
    samples += b.numSamples;
    chunks += b.numChunks;
    series = Math.max(series, b.numSeries);
    chunkBytes += b.chunkBytes;
    indexBytes += b.indexBytes;
  }
  return { samples, series, chunks, size, chunkBytes, indexBytes };
}

/** "chunks 52.1 MiB (2.86 B/sample, 139,776 chunks), index 5.9 MiB, other 0.1 MiB" for a set of blocks. */
export function breakdown(blocks: readonly BlockOnDisk[]): string {
  const t = blockTotals(blocks);
  const m = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const per = t.samples > 0 ? (t.chunkBytes / t.samples).toFixed(3) : 'n/a';
  return (
    `chunks ${m(t.chunkBytes)} (${per} B/sample, ${t.chunks.toLocaleString('en-US')} chunks, ` +
    `${t.chunks > 0 ? (t.samples / t.chunks).toFixed(1) : 'n/a'} samples/chunk), index ${m(t.indexBytes)}, ` +
    `other ${m(t.size.bytes - t.chunkBytes - t.indexBytes)}`
  );
}

/** Pairs of blocks whose time ranges overlap (which would count samples twice), as text; empty when none. */
export function overlaps(blocks: readonly BlockOnDisk[]): string[] {
  const out: string[] = [];
  const s = [...blocks].sort((a, b) => a.minTime - b.minTime);
  for (let i = 1; i < s.length; i++) {
    if (s[i]!.minTime < s[i - 1]!.maxTime) out.push(`${s[i - 1]!.ulid} [${s[i - 1]!.minTime}, ${s[i - 1]!.maxTime}) and ${s[i]!.ulid} [${s[i]!.minTime}, ${s[i]!.maxTime})`);
  }
  return out;
}

/**
 * "3×54h, 1×18h, 2×2h": the block layout by time span rounded up to whole hours (a block cut from data
 * spans a little less than its range: first sample to last sample + 1 ms), longest first.
 */
export function layout(blocks: readonly BlockOnDisk[]): string {
  const byHours = new Map<number, number>();
  for (const b of blocks) {
    const h = Math.ceil((b.maxTime - b.minTime) / 3_600_000);
    byHours.set(h, (byHours.get(h) ?? 0) + 1);
  }
  return [...byHours.entries()]
    .sort((a, b) => b[0] - a[0])
    .map(([h, n]) => `${n}×${h}h`)
    .join(', ');
}
