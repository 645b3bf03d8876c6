/**
 * Storage benchmark (issue 4): the same multi-day node-exporter-like data in Argus, Prometheus 2.42 and
 * VictoriaMetrics 1.79, each left to compact; bytes on disk per sample and the ratios; then 7-day range
 * queries against Argus (cold: first query after a restart; warm: repeated) and Prometheus.
 *
 * - Prometheus: the data as OpenMetrics files, one per 2h block (streamed to disk: promtool parses its
 *   whole input once per block it makes, so a file per block keeps it to two passes), each turned into a
 *   block by `promtool tsdb create-blocks-from openmetrics FILE DIR` — blocks like those a head cuts —,
 *   then `prometheus --storage.tsdb.path=DIR --storage.tsdb.retention.time=30d`, which compacts them
 *   itself (ranges 2h, 6h, 18h, 54h at 30d retention) in its first compaction cycle, one minute after start.
 *   Counted: the block directories (index, chunks, meta.json, tombstones); not wal/ or chunks_head/ (empty
 *   here: nothing is scraped).
 * - VictoriaMetrics: remote write, then /internal/force_flush and /internal/force_merge, waiting until no
 *   merge runs. Counted: data/ and indexdb/ under -storageDataPath (not cache/, snapshots/, metadata/).
 * - Argus: `argus all` from this tree, remote write in time order (one hour of every series per slice),
 *   so the head cuts 2h blocks as it advances. Counted: the raw blocks in `<data>/bucket` that carry no
 *   deletion mark, once every cut block is shipped and Argus's own compaction planner finds nothing left
 *   to do (and the bucket stayed unchanged for BENCH_STORAGE_QUIET_S), when that path is wired; else the
 *   local 2h blocks under `<data>/tenants/anonymous/blocks` (said so in the report). The last ~3 h stay in the
 *   head (WAL), which no system's count includes, so bytes/sample divides by the samples in the counted
 *   blocks (meta.json), checked against the samples sent before the last cut.
 *
 * Bytes are file sizes (`du -b`); allocated blocks (`du`) are shown beside them.
 *
 * Sizing (environment): BENCH_STORAGE_HOSTS (6; ~158 series each), BENCH_STORAGE_DAYS (7),
 * BENCH_STORAGE_INTERVAL_S (30), BENCH_STORAGE_STEP_S (600: what Grafana picks for 7 days on a ~1000 px
 * panel), BENCH_STORAGE_COLD_RUNS (3; each one a restart), BENCH_STORAGE_WARM_RUNS (5),
 * BENCH_STORAGE_PROMTOOL_BLOCK_H (2: the blocks promtool makes, its --max-block-duration; 2h·3^n),
 * BENCH_STORAGE_SETTLE_S (300: the longest wait for each system to settle), BENCH_STORAGE_QUIET_S (20: how
 * long Argus's bucket must stay unchanged to count as settled; set it above the compactor's interval),
 * BENCH_STORAGE_ARGUS_CONFIG_EXTRA (YAML merged into Argus's config), BENCH_STORAGE_KEEP (1: keep the
 * data directory and print its path), BENCH_CONCURRENCY (8), BENCH_SERVERS (argus,prometheus,victoria-metrics).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { groupOf, planGroup } from '../src/compact/index.js';
import { decodeMeta, type BlockMeta } from '../src/tsdb/block/index.js';
import { startArgus, type ArgusProcess } from '../test/support/argus-process.js';
import { peerBinary, startPrometheus, startVictoriaMetrics, type RunningPeer } from '../test/support/peers.js';
import { guardArgus } from './support/argus-guard.js';
import { runTool } from './support/command.js';
import { blockTotals, breakdown, findBlocks, layout, overlaps, treesSize, type BlockOnDisk, type TreeSize } from './support/disk-usage.js';
import { sumMetric, sumMetricWith } from './support/exposition-sum.js';
import { NodeWorkload, RemoteWriteSlicer, writeOpenMetricsFiles } from './support/node-workload.js';
import { coldWarmQueries, coldWarmTable, type ColdWarmRow, type QueryServer } from './support/cold-warm-queries.js';
import { closeQueryClient } from './support/query-client.js';
import { sendAll } from './support/remote-write-client.js';
import { formatTable, mib, num, ratio } from './support/table.js';

const HOUR = 3_600_000;
/** Argus's default block range (config storage.tsdb.block_range) and its head's cut rule (> 1.5 ranges). */
const ARGUS_BLOCK_RANGE = 2 * HOUR;

const QUERIES: readonly string[] = ['sum by (mode) (rate(node_cpu_seconds_total[5m]))', 'avg_over_time(node_memory_MemAvailable_bytes[10m])'];

type Key = 'prometheus' | 'victoria-metrics' | 'argus';

interface Options {
  hosts: number;
  days: number;
  intervalMs: number;
  stepMs: number;
  coldRuns: number;
  warmRuns: number;
  promtoolBlockH: number;
  settleMs: number;
  quietMs: number;
  shards: number;
  keep: boolean;
  want: (k: Key) => boolean;
}

function envInt(name: string, def: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const v = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${name}=${raw}: want an integer in [${min}, ${max}]`);
  return v;
}

/** promtool's block sizes are Prometheus's ranges 2h·3^n (2h, 6h, 18h, 54h, ...); it rounds others down. */
function promtoolBlockHours(): number {
  const h = envInt('BENCH_STORAGE_PROMTOOL_BLOCK_H', 2, 2, 1458);
  let r = 2;
  while (r < h) r *= 3;
  if (r !== h) throw new Error(`BENCH_STORAGE_PROMTOOL_BLOCK_H=${h}: promtool makes blocks of 2h·3^n (2, 6, 18, 54, ... hours)`);
  return h;
}

function readOptions(): Options {
  const wanted = (process.env.BENCH_SERVERS ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const k of wanted) {
    if (k !== 'argus' && k !== 'prometheus' && k !== 'victoria-metrics') {
      throw new Error(`BENCH_SERVERS: unknown server ${k} (storage benchmark: argus, prometheus, victoria-metrics)`);
    }
  }
  return {
    hosts: envInt('BENCH_STORAGE_HOSTS', 6, 1, 1000),
    days: envInt('BENCH_STORAGE_DAYS', 7, 1, 60),
    intervalMs: envInt('BENCH_STORAGE_INTERVAL_S', 30, 2, 3600) * 1000,
    stepMs: envInt('BENCH_STORAGE_STEP_S', 600, 1, 86_400) * 1000,
    coldRuns: envInt('BENCH_STORAGE_COLD_RUNS', 3, 1, 20),
    warmRuns: envInt('BENCH_STORAGE_WARM_RUNS', 5, 1, 100),
    promtoolBlockH: promtoolBlockHours(),
    settleMs: envInt('BENCH_STORAGE_SETTLE_S', 300, 5, 7200) * 1000,
    quietMs: envInt('BENCH_STORAGE_QUIET_S', 20, 1, 3600) * 1000,
    shards: envInt('BENCH_CONCURRENCY', 8, 1, 64),
    keep: process.env.BENCH_STORAGE_KEEP === '1',
    want: (k) => wanted.length === 0 || wanted.includes(k),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function getText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status}: ${text.slice(0, 200)}`);
  return text;
}

function debianVersion(pkg: string): string {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8', timeout: 5000 }).trim() || 'unknown version';
  } catch {
    return 'unknown version';
  }
}

// ---------------------------------------------------------------------------------------------------
// What each system measured

interface DiskResult {
  key: Key;
  title: string;
  status: 'ok' | 'failed' | 'skipped';
  reason?: string;
  /** Samples in what was counted (meta.json stats, or VictoriaMetrics's vm_rows). */
  samples?: number;
  size?: TreeSize;
  /** What was counted, and its shape (block layout). */
  counted?: string;
  shape?: string;
  /** Where the bytes go (blocks: chunks, index, other). */
  parts?: string;
  notes: string[];
}

const failed = (key: Key, title: string, reason: string): DiskResult => ({ key, title, status: 'failed', reason, notes: [] });

// ---------------------------------------------------------------------------------------------------
// Argus

/** `argus all` on one data dir, restartable (the cold-cache query runs restart it). */
class ArgusNode {
  private proc: ArgusProcess | null = null;
  private unguard: (() => void) | null = null;

  constructor(
    readonly dataDir: string,
    private readonly configFile: string,
  ) {}

  get url(): string {
    if (this.proc === null) throw new Error('Argus is not running');
    return this.proc.url;
  }

  get pid(): number {
    return this.proc?.child.pid ?? -1;
  }

  logs(): string {
    return this.proc?.logs() ?? '';
  }

  async start(): Promise<void> {
    const args = [`--storage.tsdb.path=${this.dataDir}`, `--config.file=${this.configFile}`, '--log.level=warn'];
    this.proc = await startArgus('all', args, { readyTimeoutMs: 120_000 });
    this.unguard = guardArgus({ proc: this.proc, dir: this.dataDir });
  }

  async stop(): Promise<void> {
    if (this.proc === null) return;
    await this.proc.stop();
    this.unguard?.();
    this.proc = null;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

/** Argus's config: accept 7-day-old samples; anything in BENCH_STORAGE_ARGUS_CONFIG_EXTRA is merged over it. */
function argusConfig(): string {
  const base: Record<string, unknown> = { limits: { reject_old_samples: false, creation_grace_period: '10m' } };
  const extra = process.env.BENCH_STORAGE_ARGUS_CONFIG_EXTRA;
  if (extra === undefined || extra.trim() === '') return toYaml(base);
  let parsed: unknown;
  try {
    parsed = parseYaml(extra);
  } catch (err) {
    throw new Error(`BENCH_STORAGE_ARGUS_CONFIG_EXTRA: invalid YAML: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('BENCH_STORAGE_ARGUS_CONFIG_EXTRA: want a YAML mapping');
  const merge = (a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> => {
    const out = { ...a };
    for (const [k, v] of Object.entries(b)) {
      const cur = out[k];
      out[k] =
        cur !== null && typeof cur === 'object' && !Array.isArray(cur) && v !== null && typeof v === 'object' && !Array.isArray(v)
          ? merge(cur as Record<string, unknown>, v as Record<string, unknown>)
          : v;
    }
    return out;
  };
  return toYaml(merge(base, parsed as Record<string, unknown>));
}

/** The end of the last block Argus's head cuts from this data (it cuts while it spans > 1.5 ranges). */
function expectedArgusCut(w: NodeWorkload): number {
  let headMin = w.firstMs;
  let cut = -Infinity;
  for (let i = 0; i < 100_000 && w.lastMs - headMin > 1.5 * ARGUS_BLOCK_RANGE; i++) {
    cut = Math.floor(headMin / ARGUS_BLOCK_RANGE) * ARGUS_BLOCK_RANGE + ARGUS_BLOCK_RANGE;
    headMin = w.firstSampleAtOrAfter(cut);
  }
  return cut;
}

/**
 * What Argus's compactor would still do to these bucket blocks (its own planner, default ranges), or null
 * when nothing: the bucket has settled only then.
 */
function pendingCompaction(bucket: readonly BlockOnDisk[]): string | null {
  const groups = new Map<string, BlockMeta[]>();
  const noCompact = new Set(bucket.filter((b) => b.noCompactMarked).map((b) => b.ulid));
  for (const b of bucket) {
    if (b.deletionMarked) continue;
    const meta = decodeMeta(b.metaJson, `${b.dir}/meta.json`);
    const key = groupOf(meta).key;
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = []));
    g.push(meta);
  }
  for (const [key, metas] of groups) {
    const plan = planGroup(metas, noCompact);
    if (plan !== null) return `${plan.kind} compaction of ${plan.blocks.length} blocks in group ${key}`;
  }
  return null;
}

const signature = (bs: readonly BlockOnDisk[]): string => bs.map((b) => `${b.ulid}:${b.size.bytes}:${b.deletionMarked ? 'D' : ''}`).join(',');

/**
 * Waits until Argus's head has cut every block it will cut from this data, then — when `<data>/bucket`
 * exists — until every local block is in the bucket (directly or as a source of a compacted block), Argus's
 * compaction planner has nothing left to do there, and the bucket has not changed for `quietMs`. Bounded by
 * the settle timeout; measures whatever is there then (and says so).
 */
async function settleArgus(a: ArgusNode, w: NodeWorkload, o: Options, log: (m: string) => void): Promise<DiskResult> {
  const localDir = join(a.dataDir, 'tenants', 'anonymous', 'blocks');
  const bucketDir = join(a.dataDir, 'bucket');
  const cutWanted = expectedArgusCut(w);
  const deadline = performance.now() + o.settleMs;
  let headDoneAt = -1;
  let lastSig = '';
  let sigSince = performance.now();
  let lastMinValid = NaN;
  let minValidSince = performance.now();
  let state = '';
  let settled = false;
  let lastLog = performance.now();
  for (;;) {
    const minValid = sumMetric(await getText(`${a.url}/metrics`), 'argus_head_min_valid_time_seconds') * 1000;
    if (minValid !== lastMinValid) {
      lastMinValid = minValid;
      minValidSince = performance.now();
    }
    // The head is done at the expected cut; if the cut rule differs from the one assumed here, a minValid
    // that stopped moving for the quiet period also counts.
    const headDone = minValid >= cutWanted || (minValid > w.firstMs && performance.now() - minValidSince >= o.quietMs);
    if (headDone && headDoneAt < 0) {
      headDoneAt = performance.now();
      log(`Argus: head cut done (min valid time ${new Date(minValid).toISOString()}, expected ${new Date(cutWanted).toISOString()})`);
    }
    const local = (await findBlocks(localDir, 1)).blocks;
    const bucket = (await findBlocks(bucketDir, 3)).blocks;
    const live = bucket.filter((b) => !b.deletionMarked);
    const sig = signature(bucket);
    if (sig !== lastSig) {
      lastSig = sig;
      sigSince = performance.now();
    }
    const inBucket = new Set(live.flatMap((b) => [b.ulid, ...b.sources]));
    const unshipped = local.filter((b) => !inBucket.has(b.ulid)).length;
    const pending = bucket.length > 0 ? pendingCompaction(bucket) : null;
    state = !existsSync(bucketDir)
      ? `${local.length} local blocks, no bucket`
      : `${local.length} local blocks, ${live.length} in the bucket (${bucket.length - live.length} marked for deletion), ${unshipped} not shipped` +
        (pending !== null ? `, compactor still to do: ${pending}` : '');
    if (headDoneAt >= 0) {
      if (!existsSync(bucketDir) && performance.now() - headDoneAt >= o.quietMs) {
        settled = true;
        break; // no bucket path: measure local blocks
      }
      if (bucket.length > 0 && unshipped === 0 && pending === null && performance.now() - sigSince >= o.quietMs) {
        settled = true;
        break;
      }
    }
    if (performance.now() > deadline) {
      log(`Argus: not settled after ${o.settleMs / 1000} s (${state}); measuring what is there`);
      break;
    }
    if (performance.now() - lastLog >= 15_000) {
      lastLog = performance.now();
      log(`Argus: waiting: ${state}`);
    }
    await sleep(1000);
  }

  const bucket = (await findBlocks(bucketDir, 3)).blocks;
  const wired = existsSync(bucketDir);
  const all = wired ? bucket : (await findBlocks(localDir, 1)).blocks;
  const marked = all.filter((b) => b.deletionMarked);
  const raw = all.filter((b) => !b.deletionMarked && b.resolution === 0);
  const down = all.filter((b) => !b.deletionMarked && b.resolution !== 0);
  const t = blockTotals(raw);
  const notes: string[] = [];
  if (!settled) notes.push(`Argus: NOT settled within ${o.settleMs / 1000} s (${state})`);
  const ov = overlaps(raw);
  if (ov.length > 0) notes.push(`Argus: ${ov.length} overlapping blocks counted (samples counted twice?): ${ov.slice(0, 2).join('; ')}`);
  if (marked.length > 0) notes.push(`Argus: not counted: ${marked.length} blocks marked for deletion (${mib(blockTotals(marked).size.bytes)})`);
  if (down.length > 0) notes.push(`Argus: not counted: ${down.length} downsampled blocks (${mib(blockTotals(down).size.bytes)})`);
  const newest = raw.reduce((m, b) => Math.max(m, b.maxTime), -Infinity);
  const expected = w.samplesBefore(newest);
  if (t.samples !== expected) notes.push(`Argus: the counted blocks hold ${num(t.samples)} samples; ${num(expected)} were sent before their end`);
  return {
    key: 'argus',
    title: wired ? 'Argus (bucket)' : 'Argus (local 2h blocks)',
    status: raw.length > 0 ? 'ok' : 'failed',
    ...(raw.length > 0 ? {} : { reason: `no blocks to measure (${state})` }),
    samples: t.samples,
    size: t.size,
    counted: wired ? `blocks in ${bucketDir} without deletion-mark.json (raw resolution)` : `local blocks in ${localDir}`,
    shape: raw.length > 0 ? `${raw.length} blocks: ${layout(raw)}` : '-',
    parts: breakdown(raw),
    notes,
  };
}

// ---------------------------------------------------------------------------------------------------
// Prometheus

const PROMETHEUS_CONFIG = 'global:\n  scrape_interval: 15s\n  evaluation_interval: 1m\nscrape_configs: []\n';
const PROMETHEUS_ARGS = ['--storage.tsdb.retention.time=30d', '--log.level=warn'];

/**
 * The workload as TSDB blocks in `dataDir`, made by promtool: one OpenMetrics file per block window
 * (promtool parses its whole input once per block it creates, so a file per block keeps that to two
 * passes), each converted while the next is written, then deleted.
 */
async function backfill(w: NodeWorkload, o: Options, root: string, dataDir: string, log: (m: string) => void): Promise<string> {
  const promtool = peerBinary('promtool');
  if (promtool === null) throw new Error('promtool is not installed (apt-get install prometheus)');
  log(`writing ${num(w.samples)} samples as OpenMetrics, one file per ${o.promtoolBlockH}h block, each converted by promtool`);
  let toolMs = 0;
  let blocks = 0;
  const written = await writeOpenMetricsFiles(w, { dir: root, windowMs: o.promtoolBlockH * HOUR }, async (f) => {
    try {
      const args = ['tsdb', 'create-blocks-from', `--max-block-duration=${o.promtoolBlockH}h`, 'openmetrics', '--quiet', f.path, dataDir];
      const r = await runTool(promtool, args, { timeoutMs: o.settleMs });
      if (r.timedOut) throw new Error(`promtool ${args.join(' ')}: killed after ${o.settleMs / 1000} s`);
      if (r.code !== 0) throw new Error(`promtool ${args.join(' ')}: exit code ${r.code} signal ${r.signal}: ${r.output.trim().slice(-1500)}`);
      toolMs += r.ms;
      blocks++;
    } finally {
      rmSync(f.path, { force: true });
    }
  });
  const what =
    `${written.files} OpenMetrics files (${mib(written.bytes)}, ${num(written.samples)} samples) written in ${(written.ms / 1000).toFixed(1)} s; ` +
    `promtool made ${blocks} blocks in ${(toolMs / 1000).toFixed(1)} s`;
  log(what);
  return what;
}

/**
 * Waits for Prometheus's first compaction cycle (one minute after start) to finish: cycle triggered, the
 * compaction count, loaded blocks and block directories unchanged for 10 s, and no directory left over.
 */
async function settlePrometheus(p: RunningPeer, dataDir: string, o: Options, log: (m: string) => void): Promise<{ settled: boolean; state: string }> {
  const deadline = performance.now() + Math.max(o.settleMs, 90_000);
  let lastSig = '';
  let since = performance.now();
  for (;;) {
    const text = await getText(`${p.url}/metrics`);
    const triggered = sumMetric(text, 'prometheus_tsdb_compactions_triggered_total');
    const compactions = sumMetric(text, 'prometheus_tsdb_compactions_total');
    const loaded = sumMetric(text, 'prometheus_tsdb_blocks_loaded');
    const failures = sumMetric(text, 'prometheus_tsdb_compactions_failed_total');
    const dirs = (await findBlocks(dataDir, 1)).blocks.length;
    const sig = `${compactions}/${loaded}/${dirs}`;
    if (sig !== lastSig) {
      lastSig = sig;
      since = performance.now();
    }
    const state = `${num(triggered)} compaction cycles, ${num(compactions)} compactions, ${num(failures)} failed, ${num(loaded)} blocks loaded, ${dirs} on disk`;
    if (triggered >= 1 && dirs === loaded && performance.now() - since >= 10_000) return { settled: true, state };
    if (performance.now() > deadline) {
      log(`Prometheus: compaction not settled (${state}); measuring what is there`);
      return { settled: false, state };
    }
    await sleep(1000);
  }
}

async function measurePrometheus(w: NodeWorkload, dataDir: string, settle: { settled: boolean; state: string }, backfilled: string): Promise<DiskResult> {
  const { blocks } = await findBlocks(dataDir, 1);
  const t = blockTotals(blocks);
  const notes: string[] = [];
  if (!settle.settled) notes.push(`Prometheus: NOT settled (${settle.state})`);
  if (t.samples !== w.samples) notes.push(`Prometheus: blocks hold ${num(t.samples)} samples, ${num(w.samples)} were written`);
  const excluded = await treesSize([join(dataDir, 'wal'), join(dataDir, 'chunks_head')]);
  notes.push(`Prometheus: ${backfilled}; after its first compaction cycle: ${settle.state}; not counted: wal/ + chunks_head/ ${mib(excluded.bytes)}`);
  return {
    key: 'prometheus',
    title: `Prometheus ${debianVersion('prometheus')}`,
    status: blocks.length > 0 ? 'ok' : 'failed',
    ...(blocks.length > 0 ? {} : { reason: 'no blocks in the data dir' }),
    samples: t.samples,
    size: t.size,
    counted: `block dirs in ${dataDir}`,
    shape: `${blocks.length} blocks: ${layout(blocks)}`,
    parts: breakdown(blocks),
    notes,
  };
}

// ---------------------------------------------------------------------------------------------------
// VictoriaMetrics

async function settleVictoriaMetrics(vm: RunningPeer, w: NodeWorkload, o: Options, log: (m: string) => void): Promise<DiskResult> {
  const title = `VictoriaMetrics ${debianVersion('victoria-metrics')}`;
  const store = join(vm.dir, 'data');
  const counted = [join(store, 'data'), join(store, 'indexdb')];
  await getText(`${vm.url}/internal/force_flush`);
  await getText(`${vm.url}/internal/force_merge`);
  // The merge runs in the background: wait until none runs and the size stops moving.
  const started = performance.now();
  const deadline = started + o.settleMs;
  let lastBytes = -1;
  let since = performance.now();
  let rows = NaN;
  let settled = false;
  for (;;) {
    await sleep(1000);
    const text = await getText(`${vm.url}/metrics`);
    const active = sumMetric(text, 'vm_active_force_merges') + sumMetric(text, 'vm_active_merges');
    rows = sumMetricWith(text, 'vm_rows', 'type="storage/');
    const bytes = (await treesSize(counted)).bytes;
    if (bytes !== lastBytes || active > 0) {
      lastBytes = bytes;
      since = performance.now();
    }
    if (active === 0 && performance.now() - since >= 5000 && performance.now() - started >= 3000) {
      settled = true;
      break;
    }
    if (performance.now() > deadline) {
      log(`VictoriaMetrics: merges not settled after ${o.settleMs / 1000} s; measuring what is there`);
      break;
    }
  }
  const size = await treesSize(counted);
  const notes: string[] = [];
  if (!settled) notes.push('VictoriaMetrics: NOT settled (merges still running)');
  if (rows !== w.samples) notes.push(`VictoriaMetrics: vm_rows (storage) says ${num(rows)} samples, ${num(w.samples)} were sent`);
  const other = await treesSize([join(store, 'cache'), join(store, 'snapshots'), join(store, 'metadata')]);
  notes.push(`VictoriaMetrics: not counted: cache/ + snapshots/ + metadata/ ${mib(other.bytes)}`);
  return { key: 'victoria-metrics', title, status: 'ok', samples: rows, size, counted: `${counted.join(' + ')}`, shape: 'data + indexdb', notes };
}

// ---------------------------------------------------------------------------------------------------
// Remote write (VictoriaMetrics and Argus at once, slice by slice)

interface RwTarget {
  key: Key;
  title: string;
  url: () => string;
}

async function remoteWrite(w: NodeWorkload, targets: RwTarget[], o: Options, log: (m: string) => void): Promise<Map<Key, string | null>> {
  const slicer = new RemoteWriteSlicer(w, { sliceScrapes: Math.max(1, Math.floor(HOUR / w.intervalMs)), shards: o.shards, samplesPerRequest: 2000 });
  const errors = new Map<Key, string | null>(targets.map((t) => [t.key, null]));
  const deadline = performance.now() + o.settleMs * 4;
  const t0 = performance.now();
  let lastLog = t0;
  let sent = 0;
  let bytes = 0;
  let slice = slicer.next();
  for (let i = 0; slice !== null; i++) {
    const live = targets.filter((t) => errors.get(t.key) === null);
    if (live.length === 0) break;
    const cur = slice;
    const sending = Promise.all(
      live.map(async (t) => {
        const r = await sendAll({ url: t.url(), shards: cur.shards, requestTimeoutMs: 60_000, deadline });
        if (r.failed + r.unsent > 0) {
          const why = [...r.errors].map(([k, n]) => `${n}x ${k}`).join('; ');
          errors.set(t.key, `remote write of slice ${i} (from ${new Date(w.baseMs + cur.k0 * w.intervalMs).toISOString()}): ${r.failed} requests failed, ${r.unsent} not sent before the deadline: ${why}`);
          log(`${t.title}: ${errors.get(t.key)}; no more data is sent to it`);
        }
      }),
    );
    slice = slicer.next(); // encoded while the current slice is in flight
    await sending;
    sent += cur.samples;
    bytes += cur.bytes;
    if (performance.now() - lastLog >= 15_000) {
      lastLog = performance.now();
      log(`remote write: ${num(sent)} of ${num(w.samples)} samples, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
  }
  log(`remote write: ${num(sent)} samples (${mib(bytes)} snappy) to ${targets.map((t) => t.title).join(' and ')} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return errors;
}

// ---------------------------------------------------------------------------------------------------
// Report

function diskReport(results: DiskResult[], argusWired: boolean): string[] {
  const prom = results.find((r) => r.key === 'prometheus' && r.status === 'ok');
  const bps = (r: DiskResult): number => r.size!.bytes / r.samples!;
  const rows = results.map((r) => {
    if (r.status !== 'ok') return [r.title, r.status.toUpperCase(), '-', '-', '-', '-', '-'];
    return [
      r.title,
      num(r.samples!),
      mib(r.size!.bytes),
      bps(r).toFixed(3),
      prom ? ratio(bps(r), bps(prom)) : 'n/a',
      mib(r.size!.allocated),
      r.shape ?? '',
    ];
  });
  const out = [formatTable(['system', 'samples', 'bytes (du -b)', 'bytes/sample', 'vs Prometheus', 'allocated (du)', 'layout'], rows), ''];
  for (const r of results) if (r.counted) out.push(`counted for ${r.title}: ${r.counted}`);
  for (const r of results) if (r.parts) out.push(`${r.title}: ${r.parts}`);
  const a = results.find((r) => r.key === 'argus');
  if (a?.status === 'ok' && prom) {
    out.push('');
    if (!argusWired) out.push('bucket path not wired: measured local 2h blocks');
    const ab = bps(a);
    const pb = bps(prom);
    out.push(`Goal (issue 4): Argus bytes per sample <= Prometheus's: ${ab <= pb ? 'MET' : 'NOT MET'} (${ab.toFixed(3)} vs ${pb.toFixed(3)}, ${ratio(ab, pb)})`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------

export async function runStorage(): Promise<boolean> {
  const o = readOptions();
  const log = (m: string): void => void process.stderr.write(`[storage] ${m}\n`);
  const w = new NodeWorkload({ hosts: o.hosts, spanMs: o.days * 24 * HOUR, intervalMs: o.intervalMs, endMs: Date.now() });
  const range = { start: Math.ceil(w.firstMs / o.stepMs) * o.stepMs, end: Math.floor(w.lastMs / o.stepMs) * o.stepMs, step: o.stepMs };
  const points = (range.end - range.start) / o.stepMs + 1;
  if (points > 11_000) throw new Error(`${points} points per series; Prometheus allows 11,000: raise BENCH_STORAGE_STEP_S`);

  const root = mkdtempSync(join(tmpdir(), 'argus-bench-storage-'));
  const removeRoot = (): void => {
    if (!o.keep) rmSync(root, { recursive: true, force: true });
  };
  process.on('exit', removeRoot);
  const promMissing = o.want('prometheus') && (peerBinary('prometheus') === null || peerBinary('promtool') === null);
  const vmMissing = o.want('victoria-metrics') && peerBinary('victoria-metrics') === null;
  process.stdout.write(
    [
      `storage: ${num(w.series.length)} node-exporter-like series (${w.hosts} hosts, ${w.families} families), ${num(w.scrapes)} scrapes every ` +
        `${w.intervalMs / 1000} s over ${o.days} d = ${num(w.samples)} samples, ${new Date(w.firstMs).toISOString()} .. ${new Date(w.lastMs).toISOString()}`,
      `  Prometheus: OpenMetrics files → promtool (${o.promtoolBlockH}h blocks) → prometheus --storage.tsdb.retention.time=30d, first compaction cycle; ` +
        `VictoriaMetrics and Argus: remote write 1.0 in time order (1 h slices, ${o.shards} requests in flight)`,
      `  queries: ${new Date(range.start).toISOString()} .. ${new Date(range.end).toISOString()} step ${o.stepMs / 1000} s (${points} points); ` +
        `cold = first query after a restart of the server process (OS page cache stays warm), median of ${o.coldRuns}; warm = median of ${o.warmRuns} repeats`,
      ...(promMissing ? ['  Prometheus: SKIPPED (prometheus/promtool not installed: apt-get install prometheus)'] : []),
      ...(vmMissing ? ['  VictoriaMetrics: SKIPPED (not installed: apt-get install victoria-metrics)'] : []),
    ].join('\n') + '\n',
  );

  const results = new Map<Key, DiskResult>();
  // Peers are replaced on restart, from callbacks: one holder, read at each use.
  const peers: { prom: RunningPeer | null; vm: RunningPeer | null } = { prom: null, vm: null };
  let argus: ArgusNode | null = null;
  const promData = join(root, 'prometheus');
  let ok = true;
  let argusWired = false;
  let queryRows: ColdWarmRow[] = [];
  const querySystems: QueryServer[] = [];
  let backfilled = '';
  try {
    // 1. Prometheus: promtool's blocks, then Prometheus on them; its first compaction cycle comes one
    //    minute after start, while VictoriaMetrics and Argus are loaded.
    if (o.want('prometheus') && !promMissing) {
      mkdirSync(promData);
      try {
        backfilled = await backfill(w, o, root, promData, log);
        peers.prom = await startPrometheus({ config: PROMETHEUS_CONFIG, args: PROMETHEUS_ARGS, dataDir: promData });
        log(`Prometheus: started on the backfilled blocks (pid ${peers.prom.pid}); its first compaction cycle is one minute away`);
      } catch (err) {
        results.set('prometheus', failed('prometheus', 'Prometheus', (err as Error).message));
      }
    }

    // 2. VictoriaMetrics and Argus: remote write.
    const targets: RwTarget[] = [];
    if (o.want('victoria-metrics') && !vmMissing) {
      peers.vm = await startVictoriaMetrics();
      const url = `${peers.vm.url}/api/v1/write`;
      targets.push({ key: 'victoria-metrics', title: 'VictoriaMetrics', url: () => url });
    }
    if (o.want('argus')) {
      const cfg = join(root, 'argus.yml');
      writeFileSync(cfg, argusConfig());
      argus = new ArgusNode(join(root, 'argus'), cfg);
      await argus.start();
      const a = argus;
      targets.push({ key: 'argus', title: 'Argus', url: () => `${a.url}/api/v1/push` });
    }
    if (targets.length > 0) {
      const errors = await remoteWrite(w, targets, o, log);
      for (const [k, e] of errors) if (e !== null) results.set(k, failed(k, k === 'argus' ? 'Argus' : 'VictoriaMetrics', e));
    }

    // 3. Settle and measure.
    if (peers.vm !== null) {
      const v = peers.vm;
      if (!results.has('victoria-metrics')) {
        results.set('victoria-metrics', await settleVictoriaMetrics(v, w, o, log).catch((err: unknown) => failed('victoria-metrics', 'VictoriaMetrics', (err as Error).message)));
      }
      await v.stop();
      peers.vm = null;
    }
    if (argus !== null && !results.has('argus')) {
      const r = await settleArgus(argus, w, o, log).catch((err: unknown) => failed('argus', 'Argus', (err as Error).message));
      argusWired = r.title === 'Argus (bucket)';
      results.set('argus', r);
    }
    if (peers.prom !== null) {
      const p = peers.prom;
      log('Prometheus: waiting for its compaction to settle');
      const settled = await settlePrometheus(p, promData, o, log).catch((err: unknown) => ({ settled: false, state: (err as Error).message }));
      results.set('prometheus', await measurePrometheus(w, promData, settled, backfilled));
    }

    // 4. Queries: Argus and Prometheus on the same data.
    if (argus !== null && results.get('argus')?.status === 'ok') {
      const a = argus;
      querySystems.push({ key: 'argus', short: 'Argus', title: 'Argus', url: () => a.url, restart: () => a.restart() });
    }
    if (peers.prom !== null && results.get('prometheus')?.status === 'ok') {
      querySystems.push({
        key: 'prometheus',
        short: 'Prom',
        title: 'Prometheus',
        url: () => peers.prom!.url,
        restart: async () => {
          await peers.prom?.stop();
          peers.prom = null;
          peers.prom = await startPrometheus({ config: PROMETHEUS_CONFIG, args: PROMETHEUS_ARGS, dataDir: promData });
        },
      });
    }
    if (querySystems.length > 0) queryRows = await coldWarmQueries(querySystems, QUERIES, range, { ...o, timeoutMs: 120_000, log });
  } catch (err) {
    ok = false;
    process.stdout.write(`storage benchmark FAILED: ${(err as Error).message}\n`);
    const logs = argus?.logs() ?? '';
    if (logs !== '') process.stdout.write(`--- Argus logs (tail) ---\n${logs.slice(-2000)}\n`);
  } finally {
    closeQueryClient();
    const ar = results.get('argus');
    if (ar !== undefined && ar.status === 'failed' && argus !== null) ar.notes.push(`--- Argus logs (tail) ---\n${argus.logs().slice(-2000)}`);
    const stops: [string, () => Promise<void>][] = [];
    if (argus !== null) stops.push(['Argus', () => argus!.stop()]);
    const { prom, vm } = peers;
    if (prom !== null) stops.push(['Prometheus', () => prom.stop()]);
    if (vm !== null) stops.push(['VictoriaMetrics', () => vm.stop()]);
    for (const [name, stop] of stops) await stop().catch((err: unknown) => log(`${name}: stop failed: ${(err as Error).message}`));
    if (o.keep) log(`data kept in ${root}`);
    removeRoot();
    process.removeListener('exit', removeRoot);
  }

  const order: Key[] = ['prometheus', 'victoria-metrics', 'argus'];
  const disk = order.map((k) => results.get(k)).filter((r): r is DiskResult => r !== undefined);
  const out: string[] = [''];
  if (disk.length > 0) out.push(...diskReport(disk, argusWired));
  if (queryRows.length > 0) out.push('', coldWarmTable(queryRows, querySystems));
  const notes = [...disk.flatMap((r) => r.notes), ...disk.filter((r) => r.status !== 'ok').map((r) => `${r.title}: ${r.status.toUpperCase()}: ${r.reason}`)];
  const problems = queryRows.flatMap((r) => r.problems.map((p) => `${r.query}: ${p}`));
  if (notes.length > 0) out.push('', ...notes);
  if (problems.length > 0) out.push('', 'problems:', ...problems.map((p) => `  ${p}`));
  process.stdout.write(out.join('\n') + '\n');
  if (disk.some((r) => r.status === 'failed') || problems.length > 0) ok = false;
  return ok;
}
