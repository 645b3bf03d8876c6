/**
 * The shipper: uploads every complete local block to the bucket once, in Thanos's layout, so that a store
 * gateway or compactor (ours or Thanos's) can read it:
 *
 *   <ULID>/chunks/000001 …, <ULID>/index, <ULID>/tombstones, and <ULID>/meta.json LAST
 *
 * meta.json goes last because readers treat a block directory without it as an upload in progress; the
 * uploaded copy carries a `thanos` section (external labels, resolution 0, source, segment and file list).
 *
 * Which blocks were shipped is kept in `<blocks dir>/thanos.shipper.json` (Thanos's file and format),
 * rewritten atomically after each upload. A block is uploaded again from the start if its upload was cut
 * (no meta.json in the bucket); a block whose meta.json is already in the bucket is recorded, not re-sent.
 * A failed upload leaves the block pending: it is retried at the next sync after an exponential backoff.
 */
import { open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Bucket } from '../objstore/index.js';
import { compareBytes } from '../objstore/index.js';
import type { Logger } from '../util/log.js';
import { syncDir } from '../util/fs.js';
import { META_FILENAME, decodeMeta, encodeMeta, isUlid, parseJsonObject, type BlockMeta, type ThanosMeta } from './block/index.js';

export const SHIPPER_META_FILENAME = 'thanos.shipper.json';
export const SHIPPER_META_VERSION = 1;

/** One entry of meta.json's `thanos.files`, as Thanos writes it (size omitted when 0, as Go's omitempty). */
export interface ThanosFile {
  rel_path: string;
  size_bytes?: number;
}

export interface ShipperOptions {
  /** The local blocks directory (one `<ULID>/` per block). */
  dir: string;
  bucket: Bucket;
  /** Labels identifying this producer (and tenant) in the bucket; Thanos groups and dedups blocks by them. */
  externalLabels: Record<string, string>;
  logger: Logger;
  /** `thanos.source` of uploaded blocks (default "receive"). */
  source?: string;
  /** Also ship blocks of compaction level > 1 (default false, as Thanos: those are made in the bucket). */
  uploadCompacted?: boolean;
  /** Backoff after a failed upload: first delay, doubled per consecutive failure up to the maximum. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Clock for the backoff (tests). */
  now?: () => number;
}

/** Plain counters; the server exports them (names after Thanos's thanos_shipper_*). */
export interface ShipperMetrics {
  dirSyncs: number;
  dirSyncFailures: number;
  uploads: number;
  uploadFailures: number;
  /** Blocks found already complete in the bucket and recorded without uploading. */
  alreadyInBucket: number;
}

export interface SyncResult {
  /** ULIDs uploaded by this sync. */
  uploaded: string[];
  /** ULIDs whose upload failed (they stay pending). */
  failed: string[];
  /** Shippable blocks still not in the bucket after this sync. */
  pending: number;
  /** True when the sync did nothing because a recent failure's backoff has not passed. */
  backedOff: boolean;
}

/** The thanos.shipper.json text: `{"version":1,"uploaded":[…]}` tab-indented like Go's encoder. */
export function encodeShipperMeta(uploaded: readonly string[]): string {
  return JSON.stringify({ version: SHIPPER_META_VERSION, uploaded }, null, '\t') + '\n';
}

/** Parses thanos.shipper.json; errors name the file and what is wrong. `uploaded: null` (Go's nil) is empty. */
export function decodeShipperMeta(text: string, file = SHIPPER_META_FILENAME): string[] {
  const m = parseJsonObject(text, file);
  if (m.version !== SHIPPER_META_VERSION) throw new Error(`${file}: unsupported version ${JSON.stringify(m.version)} (want ${SHIPPER_META_VERSION})`);
  if (m.uploaded === null || m.uploaded === undefined) return [];
  if (!Array.isArray(m.uploaded)) throw new Error(`${file}: "uploaded" must be an array of block ULIDs`);
  return m.uploaded.map((u: unknown, i: number) => {
    if (typeof u !== 'string' || !isUlid(u)) throw new Error(`${file}: uploaded[${i}] is not a block ULID: ${JSON.stringify(u)}`);
    return u.toUpperCase();
  });
}

/**
 * The meta.json to upload: the local meta with a `thanos` section in Thanos's field order. Fields of an
 * existing local `thanos` section that Thanos does not rewrite (e.g. downsample, rewrites) are kept.
 */
export function thanosMetaForUpload(
  meta: BlockMeta,
  opts: { labels: Record<string, string>; source: string; segmentFiles: string[]; files: ThanosFile[] },
): BlockMeta {
  const local: ThanosMeta = meta.thanos ?? {};
  const thanos: ThanosMeta = {
    version: 1,
    // Go's encoder writes map keys sorted: so does this, for byte-identical labels.
    labels: Object.fromEntries(Object.entries(opts.labels).sort(([a], [b]) => compareBytes(a, b))),
    downsample: local.downsample ?? { resolution: 0 },
    source: opts.source,
  };
  if (opts.segmentFiles.length > 0) thanos.segment_files = opts.segmentFiles;
  if (opts.files.length > 0) thanos.files = opts.files;
  for (const [k, v] of Object.entries(local)) if (!(k in thanos) && k !== 'segment_files' && k !== 'files') thanos[k] = v;
  return { ...meta, thanos };
}

interface LocalBlock {
  ulid: string;
  dir: string;
  meta: BlockMeta;
}

export class Shipper {
  readonly metrics: ShipperMetrics = { dirSyncs: 0, dirSyncFailures: 0, uploads: 0, uploadFailures: 0, alreadyInBucket: 0 };
  private readonly opts: Required<Omit<ShipperOptions, 'now'>> & { now: () => number };
  private readonly log: Logger;
  private running: Promise<SyncResult> | null = null;
  private consecutiveFailures = 0;
  private nextAttemptAt = 0;
  /** Local blocks already reported as unreadable (logged once each). */
  private readonly badBlocks = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private triggered = false;

  constructor(opts: ShipperOptions) {
    this.opts = {
      source: 'receive',
      uploadCompacted: false,
      backoffMinMs: 1000,
      backoffMaxMs: 5 * 60_000,
      now: Date.now,
      ...opts,
    };
    this.log = opts.logger.with({ component: 'shipper', bucket: opts.bucket.name });
    if (Object.keys(opts.externalLabels).length === 0) {
      this.log.warn('no external labels: blocks are shipped without any, and Thanos tools refuse such blocks; set external labels to tell producers apart', { dir: opts.dir });
    }
  }

  /**
   * Uploads every local block not yet shipped, oldest first. One sync runs at a time: a call during a sync
   * waits for it and then runs its own. A bucket error stops the pass (later blocks stay pending, in order)
   * and starts the backoff; the error is logged and counted, and the call resolves (nothing is lost).
   */
  async sync(): Promise<SyncResult> {
    while (this.running !== null) await this.running.catch(() => undefined);
    const run = this.syncOnce();
    this.running = run;
    try {
      return await run;
    } finally {
      this.running = null;
    }
  }

  /** Runs `sync` every `intervalMs` (and soon after `trigger()`), until `stop()`. */
  start(intervalMs: number): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.trigger(), intervalMs);
    this.timer.unref();
  }

  /** Asks for a sync soon (e.g. when a new block was written); calls while one is queued coalesce. */
  trigger(): void {
    if (this.triggered) return;
    this.triggered = true;
    setImmediate(() => {
      this.triggered = false;
      this.sync().catch((err) => this.log.error('shipper sync failed', { dir: this.opts.dir, error: (err as Error).message }));
    });
  }

  /** Stops the timer and waits for a running sync. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    while (this.running !== null) await this.running.catch(() => undefined);
  }

  private async syncOnce(): Promise<SyncResult> {
    const now = this.opts.now();
    const result: SyncResult = { uploaded: [], failed: [], pending: 0, backedOff: false };
    if (now < this.nextAttemptAt) {
      result.backedOff = true;
      return result;
    }
    this.metrics.dirSyncs++;
    const metaPath = join(this.opts.dir, SHIPPER_META_FILENAME);
    const shipped = new Set(await this.readShipped(metaPath));
    let blocks: LocalBlock[];
    try {
      blocks = await this.localBlocks();
    } catch (err) {
      this.metrics.dirSyncFailures++;
      this.log.error('cannot list local blocks; nothing shipped this time', { dir: this.opts.dir, error: (err as Error).message });
      return result;
    }
    // Rebuilt from the blocks that still exist locally, as Thanos does: deleted blocks drop out of the file.
    const recorded = new Set(blocks.filter((b) => shipped.has(b.ulid)).map((b) => b.ulid));
    let changed = false;
    let stopped = false;
    for (const b of blocks) {
      if (recorded.has(b.ulid)) continue;
      if (!this.shippable(b)) continue;
      if (stopped) {
        result.pending++;
        continue;
      }
      const t0 = performance.now();
      try {
        if (await this.opts.bucket.exists(`${b.ulid}/${META_FILENAME}`)) {
          this.metrics.alreadyInBucket++;
          this.log.info('block already complete in the bucket; recorded as shipped without uploading it again', { block: b.ulid });
        } else {
          const { files, bytes } = await this.upload(b);
          this.metrics.uploads++;
          result.uploaded.push(b.ulid);
          this.log.info('block uploaded', {
            block: b.ulid,
            mint: b.meta.minTime,
            maxt: b.meta.maxTime,
            files,
            bytes,
            duration_ms: Math.round(performance.now() - t0),
          });
        }
      } catch (err) {
        this.metrics.uploadFailures++;
        this.consecutiveFailures++;
        const delay = Math.min(this.opts.backoffMaxMs, this.opts.backoffMinMs * 2 ** Math.min(30, this.consecutiveFailures - 1));
        this.nextAttemptAt = this.opts.now() + delay;
        result.failed.push(b.ulid);
        result.pending++;
        stopped = true;
        this.log.error('block upload failed; the block stays local and pending, and is retried at a later sync', {
          block: b.ulid,
          error: (err as Error).message,
          consecutive_failures: this.consecutiveFailures,
          retry_in_ms: delay,
        });
        continue;
      }
      recorded.add(b.ulid);
      changed = true;
      await this.writeShipped(metaPath, recorded, blocks);
    }
    if (!stopped) {
      this.consecutiveFailures = 0;
      this.nextAttemptAt = 0;
    } else {
      this.metrics.dirSyncFailures++;
    }
    // Also rewrite when blocks disappeared locally (the file lists only blocks that exist).
    if (!changed && recorded.size !== shipped.size) await this.writeShipped(metaPath, recorded, blocks);
    return result;
  }

  /** Whether a block is one the shipper uploads (Thanos skips empty blocks and, by default, compacted ones). */
  private shippable(b: LocalBlock): boolean {
    if (!b.meta.stats.numSamples) return false;
    if (b.meta.compaction.level > 1 && !this.opts.uploadCompacted) return false;
    return true;
  }

  /** The recorded ULIDs; an unreadable file is logged and treated as empty (the bucket check prevents re-uploads). */
  private async readShipped(path: string): Promise<string[]> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.log.warn('cannot read the shipper file; checking the bucket for every block instead', { file: path, error: (err as Error).message });
      }
      return [];
    }
    try {
      return decodeShipperMeta(text, path);
    } catch (err) {
      this.log.warn('shipper file is invalid; it will be rewritten, and the bucket is checked for every block instead', { file: path, error: (err as Error).message });
      return [];
    }
  }

  /** Writes the file atomically (temp file, fsync, rename, fsync dir), in the blocks' time order. */
  private async writeShipped(path: string, recorded: ReadonlySet<string>, blocks: LocalBlock[]): Promise<void> {
    const order = new Map(blocks.map((b, i) => [b.ulid, i]));
    const list = [...recorded].sort((a, b) => order.get(a)! - order.get(b)!);
    const tmp = `${path}.tmp`;
    try {
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(encodeShipperMeta(list));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
      await syncDir(this.opts.dir);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      // Not fatal: the next sync finds the block's meta.json in the bucket and records it without re-uploading.
      this.log.warn('cannot write the shipper file; shipped blocks will be re-checked against the bucket', { file: path, error: (err as Error).message });
    }
  }

  /** Complete local blocks (ULID directory with a readable meta.json), oldest first. */
  private async localBlocks(): Promise<LocalBlock[]> {
    const out: LocalBlock[] = [];
    for (const e of await readdir(this.opts.dir, { withFileTypes: true })) {
      if (!e.isDirectory() || !isUlid(e.name)) continue; // also skips *.tmp-for-creation
      const dir = join(this.opts.dir, e.name);
      let text: string;
      try {
        text = await readFile(join(dir, META_FILENAME), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // not complete
        this.reportBad(e.name, err);
        continue;
      }
      try {
        const meta = decodeMeta(text, join(dir, META_FILENAME));
        out.push({ ulid: meta.ulid, dir, meta });
      } catch (err) {
        this.reportBad(e.name, err);
      }
    }
    out.sort((a, b) => a.meta.minTime - b.meta.minTime || compareBytes(a.ulid, b.ulid));
    return out;
  }

  private reportBad(ulid: string, err: unknown): void {
    if (this.badBlocks.has(ulid)) return;
    this.badBlocks.add(ulid);
    this.log.error('local block has an unreadable meta.json; not shipping it', { block: ulid, error: (err as Error).message });
  }

  /** Uploads one block's files, meta.json last. On a failure before meta.json, removes what it put (best effort). */
  private async upload(b: LocalBlock): Promise<{ files: number; bytes: number }> {
    const segments = (await readdir(join(b.dir, 'chunks'))).sort(compareBytes);
    const plan: { rel: string; size: number }[] = [];
    for (const s of segments) plan.push({ rel: `chunks/${s}`, size: (await stat(join(b.dir, 'chunks', s))).size });
    plan.push({ rel: 'index', size: (await stat(join(b.dir, 'index'))).size });
    try {
      plan.push({ rel: 'tombstones', size: (await stat(join(b.dir, 'tombstones'))).size });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const put: string[] = [];
    try {
      for (const f of plan) {
        const key = `${b.ulid}/${f.rel}`;
        await this.opts.bucket.putFile(key, join(b.dir, ...f.rel.split('/')));
        put.push(key);
      }
    } catch (err) {
      for (const key of put) await this.opts.bucket.delete(key).catch(() => undefined);
      throw err;
    }
    const files: ThanosFile[] = plan.map((f) => (f.size > 0 ? { rel_path: f.rel, size_bytes: f.size } : { rel_path: f.rel }));
    files.push({ rel_path: META_FILENAME });
    files.sort((x, y) => compareBytes(x.rel_path, y.rel_path));
    const meta = thanosMetaForUpload(b.meta, {
      labels: this.opts.externalLabels,
      source: this.opts.source,
      segmentFiles: segments,
      files,
    });
    // No cleanup after a failed meta.json put: the store may have kept it despite the error (S3 can do that).
    await this.opts.bucket.put(`${b.ulid}/${META_FILENAME}`, new TextEncoder().encode(encodeMeta(meta) + '\n'));
    return { files: plan.length + 1, bytes: plan.reduce((n, f) => n + f.size, 0) };
  }
}
