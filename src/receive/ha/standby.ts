/**
 * Gapless failover: the recent samples of replicas that are not elected, per tenant, cluster, replica and
 * series, so that at a failover the new leader's samples newer than the old leader's last stored sample
 * can be stored — the data the old leader never delivered comes from the replica that was up.
 *
 * Bounded by time (`windowMs` behind each series' newest sample, which covers the failover timeout, the
 * KV update period and a scrape interval) and by a per-tenant sample budget; samples refused for the
 * budget are counted.
 */

/** Samples of one series from one standby replica, oldest first. */
export class SeriesRing {
  ts = new Float64Array(4);
  vs = new Float64Array(4);
  start = 0;
  end = 0;

  get length(): number {
    return this.end - this.start;
  }

  newest(): number {
    return this.end > this.start ? this.ts[this.end - 1]! : -Infinity;
  }

  push(t: number, v: number): void {
    if (this.end === this.ts.length) {
      // Compact, then grow if still full.
      const n = this.length;
      const cap = n * 2 >= this.ts.length ? this.ts.length * 2 : this.ts.length;
      const ts = new Float64Array(cap);
      const vs = new Float64Array(cap);
      ts.set(this.ts.subarray(this.start, this.end));
      vs.set(this.vs.subarray(this.start, this.end));
      this.ts = ts;
      this.vs = vs;
      this.start = 0;
      this.end = n;
    }
    this.ts[this.end] = t;
    this.vs[this.end] = v;
    this.end++;
  }

  /** Drops samples older than `minT`; returns how many were dropped. */
  trim(minT: number): number {
    const before = this.start;
    while (this.start < this.end && this.ts[this.start]! < minT) this.start++;
    return this.start - before;
  }
}

interface ReplicaBuffer<K> {
  series: Map<K, SeriesRing>;
}

export class StandbyBuffer<K> {
  private readonly windowMs: number;
  private readonly maxSamplesPerTenant: number;
  /** `${tenant}\xff${cluster}\xff${replica}` -> buffer */
  private readonly buffers = new Map<string, ReplicaBuffer<K>>();
  private readonly tenantSamples = new Map<string, number>();
  droppedForBudget = 0;

  constructor(windowMs: number, maxSamplesPerTenant: number) {
    this.windowMs = windowMs;
    this.maxSamplesPerTenant = maxSamplesPerTenant;
  }

  private key(tenant: string, cluster: string, replica: string): string {
    return `${tenant}\xff${cluster}\xff${replica}`;
  }

  /** Buffers samples [from, to) of a series from a standby replica. */
  add(tenant: string, cluster: string, replica: string, series: K, ts: Float64Array, vs: Float64Array, from: number, to: number): void {
    const key = this.key(tenant, cluster, replica);
    let buf = this.buffers.get(key);
    if (buf === undefined) this.buffers.set(key, (buf = { series: new Map() }));
    let ring = buf.series.get(series);
    if (ring === undefined) buf.series.set(series, (ring = new SeriesRing()));
    let count = this.tenantSamples.get(tenant) ?? 0;
    let added = 0;
    for (let i = from; i < to; i++) {
      const t = ts[i]!;
      if (t <= ring.newest()) continue; // keep each ring strictly increasing
      if (count + added >= this.maxSamplesPerTenant) {
        this.droppedForBudget += to - i;
        break;
      }
      ring.push(t, vs[i]!);
      added++;
    }
    const trimmed = ring.trim(ring.newest() - this.windowMs);
    count += added - trimmed;
    this.tenantSamples.set(tenant, count);
  }

  /** Removes and returns a replica's buffered series (at its election). */
  take(tenant: string, cluster: string, replica: string): Map<K, SeriesRing> {
    const key = this.key(tenant, cluster, replica);
    const buf = this.buffers.get(key);
    if (buf === undefined) return new Map();
    this.buffers.delete(key);
    let n = 0;
    for (const r of buf.series.values()) n += r.length;
    this.tenantSamples.set(tenant, (this.tenantSamples.get(tenant) ?? 0) - n);
    return buf.series;
  }

  /** Drops samples older than the window relative to wall-clock `now` (for replicas that stopped sending). */
  sweep(now: number): void {
    for (const [key, buf] of this.buffers) {
      const tenant = key.slice(0, key.indexOf('\xff'));
      let dropped = 0;
      for (const [k, ring] of buf.series) {
        dropped += ring.trim(now - this.windowMs);
        if (ring.length === 0) buf.series.delete(k);
      }
      if (buf.series.size === 0) this.buffers.delete(key);
      if (dropped > 0) this.tenantSamples.set(tenant, (this.tenantSamples.get(tenant) ?? 0) - dropped);
    }
  }

  bufferedSamples(): number {
    let n = 0;
    for (const v of this.tenantSamples.values()) n += v;
    return n;
  }
}
