/**
 * The remote-write receiver: decode ▸ validate ▸ tenant limits ▸ HA election ▸ append ▸ WAL fsync.
 *
 * It is transport-agnostic (`write()` takes the body and headers and returns status, message and
 * headers) so tests drive it without sockets; `http.ts` mounts it on the three endpoints.
 *
 * Status codes: 204 all stored; 202 some or all samples deduplicated (HA) and nothing rejected; 400 some
 * series or samples can never be accepted (the valid ones are stored); 413 body too large; 415
 * unsupported content type/encoding; 429 rate limit; 500 the WAL could not be written (retry);
 * 503 the HA KV is unreachable (retry).
 */
import { DecodeError, decodeWriteV1, decodeWriteV2, snappyUncompress, type DecodedWrite } from '../codec/index.js';
import type { Config, Limits } from '../config/schema.js';
import { limitsFor } from '../config/load.js';
import type { TSDB } from '../tsdb/db.js';
import type { Head, HeadAppender, MemSeries } from '../tsdb/head/index.js';
import { Appendable as Check } from '../tsdb/head/index.js';
import { StorageError } from '../storage/errors.js';
import { isStaleNaN } from '../model/value.js';
import type { Logger } from '../util/log.js';
import { HATracker, type Decision } from './ha/tracker.js';
import { StandbyBuffer, type SeriesRing } from './ha/standby.js';
import { SeriesCache, type SeriesEntry } from './series-cache.js';
import { TokenBucket } from './rate-limit.js';
import type { ReceiveMetrics } from './metrics.js';

export const RW_V1_PROTO = 'prometheus.WriteRequest';
export const RW_V2_PROTO = 'io.prometheus.write.v2.Request';

export interface WriteInput {
  tenant: string;
  body: Uint8Array;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  /** Wall clock for this request (ms); injectable for tests. */
  now?: number;
}

export interface WriteResult {
  status: number;
  message: string;
  headers: Record<string, string>;
}

/** Picks the protobuf message from Content-Type as the remote-write 2.0 spec describes; null = unsupported. */
export function negotiate(contentType: string | undefined): 1 | 2 | null {
  if (contentType === undefined || contentType.trim() === '') return 1;
  const parts = contentType.split(';').map((p) => p.trim());
  if (parts[0]!.toLowerCase() !== 'application/x-protobuf') return null;
  let proto = '';
  for (const p of parts.slice(1)) {
    const eq = p.indexOf('=');
    if (eq > 0 && p.slice(0, eq).trim().toLowerCase() === 'proto') proto = p.slice(eq + 1).trim().replace(/^"|"$/g, '');
  }
  if (proto === '' || proto === RW_V1_PROTO) return 1;
  if (proto === RW_V2_PROTO) return 2;
  return null;
}

interface Rejection {
  series: number;
  /** Float samples rejected (histograms are counted apart: none are stored yet). */
  samples: number;
  /** The request series being processed, so one series with several problems is counted once. */
  current: number;
  lastCounted: number;
  first: string;
  status: number;
}

/** Per tenant/cluster: counter offsets that stitch the new leader's counters onto the old leader's. */
interface StitchState {
  checked: Set<number>;
  offsets: Map<number, number>;
}

export class Receiver {
  private readonly cfg: Config;
  private readonly db: TSDB;
  readonly tracker: HATracker;
  private readonly standby: StandbyBuffer<SeriesEntry>;
  private readonly caches = new Map<string, SeriesCache>();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly stitch = new Map<string, StitchState>();
  private readonly log: Logger;
  private readonly metrics: ReceiveMetrics;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(cfg: Config, db: TSDB, tracker: HATracker, log: Logger, metrics: ReceiveMetrics) {
    this.cfg = cfg;
    this.db = db;
    this.tracker = tracker;
    this.log = log.with({ component: 'receive' });
    this.metrics = metrics;
    const ha = cfg.receive.ha_tracker;
    this.standby = new StandbyBuffer(
      ha.failover_timeout + ha.update_timeout + ha.update_timeout_jitter_max + ha.standby_buffer_extra,
      ha.standby_buffer_max_samples,
    );
    this.sweepTimer = setInterval(() => this.standby.sweep(Date.now()), 10_000);
    this.sweepTimer.unref();
  }

  close(): void {
    clearInterval(this.sweepTimer);
  }

  private cache(tenant: string): SeriesCache {
    let c = this.caches.get(tenant);
    if (c === undefined) this.caches.set(tenant, (c = new SeriesCache()));
    return c;
  }

  private rateLimited(tenant: string, limits: Limits, n: number, now: number): boolean {
    if (limits.ingestion_rate <= 0) return false;
    const burst = limits.ingestion_burst_size > 0 ? limits.ingestion_burst_size : Math.ceil(limits.ingestion_rate);
    let b = this.buckets.get(tenant);
    if (b === undefined) this.buckets.set(tenant, (b = new TokenBucket(limits.ingestion_rate, burst, now)));
    else b.configure(limits.ingestion_rate, burst);
    return !b.take(n, now);
  }

  async write(input: WriteInput): Promise<WriteResult> {
    const res = await this.writeInner(input);
    this.metrics.requests.inc({ code: String(res.status) });
    return res;
  }

  private async writeInner(input: WriteInput): Promise<WriteResult> {
    const { tenant } = input;
    const now = input.now ?? Date.now();
    const version = negotiate(input.contentType);
    if (version === null) {
      return fail(415, `unsupported Content-Type ${JSON.stringify(input.contentType)}: expected application/x-protobuf with proto=${RW_V1_PROTO} or proto=${RW_V2_PROTO}`);
    }
    const enc = (input.contentEncoding ?? '').trim().toLowerCase();
    if (enc !== '' && enc !== 'snappy') return fail(415, `unsupported Content-Encoding ${JSON.stringify(input.contentEncoding)}: only snappy is supported`);
    const rc = this.cfg.receive;
    if (input.body.length > rc.max_recv_msg_size) {
      return fail(413, `request body of ${input.body.length} bytes exceeds the limit max_recv_msg_size=${rc.max_recv_msg_size}`);
    }
    let dec: DecodedWrite;
    try {
      const raw = snappyUncompress(input.body, rc.max_decompressed_size);
      dec = version === 1 ? decodeWriteV1(raw) : decodeWriteV2(raw);
    } catch (err) {
      if (err instanceof DecodeError) {
        const tooLarge = /decompressed size \d+ exceeds/.test(err.message);
        this.metrics.rejectedRequests.inc({ reason: tooLarge ? 'too_large' : 'malformed' });
        return fail(tooLarge ? 413 : 400, `malformed remote-write ${version === 1 ? '1.0' : '2.0'} request: ${err.message}`);
      }
      throw err;
    }
    const limits = limitsFor(this.cfg, tenant);
    const floatSamples = dec.timestamps.length;
    let histograms = 0;
    for (let i = 0; i < dec.seriesCount; i++) histograms += dec.histogramCount[i]!;
    if (this.rateLimited(tenant, limits, floatSamples + histograms, now)) {
      this.metrics.rejectedSamples.inc({ reason: 'rate_limited' }, floatSamples);
      return fail(
        429,
        `tenant ${JSON.stringify(tenant)} exceeded the ingestion rate limit (limit ingestion_rate=${limits.ingestion_rate} samples/s, ingestion_burst_size=${limits.ingestion_burst_size || Math.ceil(limits.ingestion_rate)}); the request of ${floatSamples + histograms} samples was not stored, retry later`,
      );
    }
    const head = await this.db.head(tenant);

    // Pass 1: find every series (cache), and the HA pairs this request carries.
    const cache = this.cache(tenant);
    const entries: SeriesEntry[] = new Array(dec.seriesCount);
    const pairs = new Map<string, { cluster: string; replica: string }>();
    for (let i = 0; i < dec.seriesCount; i++) {
      const e = cache.lookup(dec, i, limits);
      entries[i] = e;
      if (e.replica !== '') {
        const k = `${e.cluster}\xff${e.replica}`;
        if (!pairs.has(k)) pairs.set(k, { cluster: e.cluster, replica: e.replica });
      }
    }
    // Every HA pair is checked — not just the first series' — so federated or proxied requests that mix
    // clusters are deduplicated correctly.
    const decisions = new Map<string, Decision>();
    try {
      await Promise.all(
        [...pairs].map(async ([k, p]) => {
          decisions.set(k, await this.tracker.check(tenant, p.cluster, p.replica, now, limits.ha_max_clusters));
        }),
      );
    } catch (err) {
      this.log.error('HA tracker KV unavailable; request refused so the sender retries', { tenant, err });
      return fail(503, `HA tracker key-value store unavailable: ${(err as Error).message}; retry later`);
    }

    // Pass 2: stage samples.
    const app = head.appender();
    const rej: Rejection = { series: 0, samples: 0, first: '', status: 400, current: -1, lastCounted: -1 };
    let deduped = 0;
    let dedupedFrom = '';
    let written = 0;
    const filled = new Set<string>();
    const minT = limits.reject_old_samples ? now - limits.reject_old_samples_max_age : -Infinity;
    const maxT = now + limits.creation_grace_period;
    for (let i = 0; i < dec.seriesCount; i++) {
      const e = entries[i]!;
      rej.current = i;
      const from = dec.sampleStart[i]!;
      const to = dec.sampleStart[i + 1]!;
      const nh = dec.histogramCount[i]!;
      if (e.reject !== null) {
        reject(rej, to - from, `${e.text}: ${e.reject}`);
        continue;
      }
      let stitch: StitchState | undefined;
      if (e.replica !== '') {
        const k = `${e.cluster}\xff${e.replica}`;
        const d = decisions.get(k)!;
        if (d.kind === 'too_many_clusters') {
          reject(rej, to - from, `${e.text}: too many HA clusters for tenant ${JSON.stringify(tenant)} (limit ha_max_clusters=${d.limit}); cluster ${JSON.stringify(e.cluster)} is not tracked`);
          continue;
        }
        if (d.kind === 'dedupe') {
          this.standby.add(tenant, e.cluster, e.replica, e, dec.timestamps, dec.values, from, to);
          deduped += to - from + nh;
          dedupedFrom ||= `replica ${JSON.stringify(e.replica)} of cluster ${JSON.stringify(e.cluster)} (elected: ${JSON.stringify(d.elected)})`;
          continue;
        }
        if (d.failoverFrom !== null && !filled.has(k)) {
          filled.add(k);
          written += this.failover(tenant, head, app, e.cluster, d.failoverFrom, e.replica);
        }
        stitch = this.stitch.get(`${tenant}\xff${e.cluster}`);
      }
      if (nh > 0) reject(rej, 0, `${e.text}: native histogram samples are not supported yet (${nh} not stored)`);
      if (to === from) continue;
      let s: MemSeries | undefined = e.ref !== 0 ? head.getByRef(e.ref) : undefined;
      if (s === undefined) {
        try {
          s = head.getOrCreate(e.labels).series;
        } catch (err) {
          if (!(err instanceof StorageError)) throw err;
          reject(rej, to - from, `${e.text}: ${err.message}`);
          continue;
        }
        e.ref = s.ref;
      }
      written += this.stageRange(app, s, e, dec.timestamps, dec.values, from, to, minT, maxT, rej, stitch);
    }
    try {
      await app.commit();
    } catch (err) {
      this.log.error('WAL write failed; request refused so the sender retries', { tenant, err });
      this.metrics.rejectedSamples.inc({ reason: 'wal_error' }, written);
      return fail(500, `could not persist samples: ${(err as Error).message}`);
    }
    this.metrics.samples.inc(written);
    if (deduped > 0) this.metrics.dedupedSamples.inc({ tenant }, deduped);
    if (rej.samples > 0) this.metrics.rejectedSamples.inc({ reason: 'invalid' }, rej.samples);

    const headers: Record<string, string> = {};
    if (version === 2) {
      // Deduplicated (and identical duplicate) samples count as written: the sender must not retry them.
      headers['X-Prometheus-Remote-Write-Samples-Written'] = String(floatSamples - rej.samples);
      headers['X-Prometheus-Remote-Write-Histograms-Written'] = '0';
      headers['X-Prometheus-Remote-Write-Exemplars-Written'] = '0';
    }
    if (rej.series > 0) {
      return {
        status: 400,
        message: `${rej.series} series rejected (${rej.samples} samples${histograms > 0 ? `, ${histograms} native histogram samples` : ''}), the rest stored; first: ${rej.first}`,
        headers,
      };
    }
    if (deduped > 0) {
      return { status: 202, message: `${deduped} samples deduplicated: ${dedupedFrom} is not the elected replica`, headers };
    }
    return { status: 204, message: '', headers };
  }

  /** Stages samples [from, to) of one series; returns how many were staged. */
  private stageRange(
    app: HeadAppender,
    s: MemSeries,
    e: SeriesEntry,
    ts: Float64Array,
    vs: Float64Array,
    from: number,
    to: number,
    minT: number,
    maxT: number,
    rej: Rejection | null,
    stitch: StitchState | undefined,
    alignedV = NaN,
  ): number {
    let staged = 0;
    let offset = 0;
    if (stitch !== undefined && e.isCounter && from < to) offset = this.stitchOffset(stitch, s, vs[from]!, alignedV);
    let bad = 0;
    let firstBad = '';
    for (let k = from; k < to; k++) {
      const t = ts[k]!;
      let v = vs[k]!;
      if (t > maxT || t < minT) {
        bad++;
        firstBad ||= t > maxT ? `sample at ${t} is too far in the future (limit creation_grace_period)` : `sample at ${t} is too old (limit reject_old_samples_max_age)`;
        continue;
      }
      if (offset !== 0 && !isStaleNaN(v)) v += offset;
      const c = app.stage(s, t, v);
      if (c === Check.InOrder || c === Check.OutOfOrderInWindow) staged++;
      else if (c !== Check.Duplicate) {
        bad++;
        firstBad ||= checkMessage(c, t, s.maxT, app);
      }
    }
    if (bad > 0 && rej !== null) reject(rej, bad, `${e.text}: ${firstBad}`);
    return staged;
  }

  /**
   * At a failover, a counter of the new leader may stand below the value stored from the old one (each
   * replica counts for itself, e.g. its own self-monitoring); offset it so no false reset is stored.
   */
  private stitchOffset(st: StitchState, s: MemSeries, first: number, alignedV: number): number {
    if (!st.checked.has(s.ref)) {
      st.checked.add(s.ref);
      if (s.maxT > -Infinity && !isStaleNaN(s.lastV) && !isStaleNaN(first) && first < s.lastV) {
        // Prefer the offset measured at the same moment (the new leader's own value at the old leader's
        // last timestamp): it keeps the increase between the two replicas' samples. Otherwise continue
        // from the last stored value.
        const aligned = alignedV === alignedV && !isStaleNaN(alignedV) && first + (s.lastV - alignedV) >= s.lastV;
        st.offsets.set(s.ref, aligned ? s.lastV - alignedV : s.lastV - first);
      }
    }
    return st.offsets.get(s.ref) ?? 0;
  }

  /**
   * Gapless failover: stage the new leader's buffered samples newer than what the old leader stored,
   * before this request's own samples (so they stay in order).
   */
  private failover(tenant: string, head: Head, app: HeadAppender, cluster: string, from: string, to: string): number {
    const st: StitchState = { checked: new Set(), offsets: new Map() };
    this.stitch.set(`${tenant}\xff${cluster}`, st);
    const buffered: Map<SeriesEntry, SeriesRing> = this.standby.take(tenant, cluster, to);
    let filled = 0;
    for (const [e, ring] of buffered) {
      let s = e.ref !== 0 ? head.getByRef(e.ref) : undefined;
      if (s === undefined) {
        try {
          s = head.getOrCreate(e.labels).series;
        } catch {
          continue; // series limit: nothing to fill into
        }
        e.ref = s.ref;
      }
      let k = ring.start;
      while (k < ring.end && ring.ts[k]! <= s.maxT) k++;
      const alignedV = k > ring.start ? ring.vs[k - 1]! : NaN;
      filled += this.stageRange(app, s, e, ring.ts, ring.vs, k, ring.end, -Infinity, Infinity, null, st, alignedV);
    }
    this.metrics.failovers.inc({ tenant });
    this.metrics.gapFilled.inc({ tenant }, filled);
    this.log.warn('HA failover: elected a new replica and filled the gap from its buffered samples', {
      tenant,
      cluster,
      from,
      to,
      series: buffered.size,
      gap_filled_samples: filled,
    });
    return filled;
  }

  haStatus() {
    return this.tracker.status();
  }

  bufferedStandbySamples(): number {
    return this.standby.bufferedSamples();
  }
}

function checkMessage(c: Check, t: number, newest: number, app: HeadAppender): string {
  switch (c) {
    case Check.OutOfOrder:
      return `out of order sample at ${t}: the series already has a sample at ${newest} and out-of-order ingestion is off (limit out_of_order_time_window=0s)`;
    case Check.TooOld:
      if (t < app.minValidTime()) return `out of bounds sample at ${t}: before ${app.minValidTime()}, the end of the newest block cut from the head`;
      return `too old sample at ${t}: more than out_of_order_time_window (${app.oooWindowMs()}ms) behind the series' newest sample at ${newest}`;
    case Check.DuplicateTimestamp:
      return `duplicate sample for timestamp ${t} with a different value`;
    default:
      return `sample at ${t} not accepted`;
  }
}

function reject(rej: Rejection, samples: number, message: string): void {
  if (rej.lastCounted !== rej.current) {
    rej.series++;
    rej.lastCounted = rej.current;
  }
  rej.samples += samples;
  if (rej.first === '') rej.first = message;
}

function fail(status: number, message: string): WriteResult {
  return { status, message, headers: {} };
}
