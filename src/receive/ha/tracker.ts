/**
 * HA tracker: per tenant and cluster, elect one replica whose samples are stored (Mimir-compatible).
 *
 * - The first replica seen is elected. Samples of other replicas are deduplicated (answered 202).
 * - The elected replica's `receivedAt` is written to the KV at most every update_timeout (+ a random
 *   per-cluster jitter up to update_timeout_jitter_max), so KV traffic stays low.
 * - If the elected replica's `receivedAt` is older than failover_timeout when another replica's samples
 *   arrive, that replica is elected (a failover), with a compare-and-swap so that receivers sharing an
 *   etcd agree on one winner.
 * - Decisions are taken from a local cache kept current by a KV watch, so most checks await nothing.
 */
import type { KV } from './kv.js';

export interface ReplicaDesc {
  replica: string;
  /** Last time (ms) a receiver accepted samples from the elected replica, as written to the KV. */
  receivedAt: number;
  /** When this replica was elected (ms). */
  electedAt: number;
  /** How many times the election changed for this cluster. */
  electedChanges: number;
}

export interface TrackerConfig {
  updateTimeoutMs: number;
  updateTimeoutJitterMaxMs: number;
  failoverTimeoutMs: number;
}

export type Decision =
  | { kind: 'accept'; failoverFrom: string | null }
  | { kind: 'dedupe'; elected: string }
  | { kind: 'too_many_clusters'; limit: number };

export interface ClusterStatus {
  tenant: string;
  cluster: string;
  elected: string;
  electedAt: number;
  receivedAt: number;
  failovers: number;
  /** Last time this receiver saw samples from each replica (ms). */
  lastSeen: Record<string, number>;
}

export interface TrackerEvents {
  onFailover?(tenant: string, cluster: string, from: string, to: string): void;
  onElection?(tenant: string, cluster: string, replica: string): void;
}

function kvKey(tenant: string, cluster: string): string {
  return `${encodeURIComponent(tenant)}/${encodeURIComponent(cluster)}`;
}

function parseKvKey(key: string): [string, string] | null {
  const i = key.indexOf('/');
  if (i < 0) return null;
  return [decodeURIComponent(key.slice(0, i)), decodeURIComponent(key.slice(i + 1))];
}

export class HATracker {
  private readonly kv: KV<ReplicaDesc>;
  private readonly cfg: TrackerConfig;
  private readonly events: TrackerEvents;
  /** tenant -> cluster -> elected replica as last known from the KV. */
  private readonly elected = new Map<string, Map<string, ReplicaDesc>>();
  /** tenant -> cluster -> replica -> last sample seen here (ms). */
  private readonly seen = new Map<string, Map<string, Map<string, number>>>();
  private readonly jitter = new Map<string, number>();
  private readonly unwatch: () => void;
  /** Compare-and-swap writes this tracker made to the KV (elections, failovers, receivedAt updates). */
  kvWrites = 0;

  constructor(kv: KV<ReplicaDesc>, cfg: TrackerConfig, events: TrackerEvents = {}) {
    this.kv = kv;
    this.cfg = cfg;
    this.events = events;
    this.unwatch = kv.watchPrefix('', (key, value) => {
      const tc = parseKvKey(key);
      if (tc === null) return;
      if (value === null) this.clusters(tc[0]).delete(tc[1]);
      else this.store(tc[0], tc[1], value);
    });
  }

  /** Loads the current elections from the KV (call once at startup). */
  async sync(): Promise<void> {
    for (const [key, value] of await this.kv.list('')) {
      const tc = parseKvKey(key);
      if (tc !== null) this.store(tc[0], tc[1], value);
    }
  }

  private clusters(tenant: string): Map<string, ReplicaDesc> {
    let m = this.elected.get(tenant);
    if (m === undefined) {
      m = new Map();
      this.elected.set(tenant, m);
    }
    return m;
  }

  private store(tenant: string, cluster: string, desc: ReplicaDesc): void {
    const m = this.clusters(tenant);
    const cur = m.get(cluster);
    // A watch event can arrive after our own newer CAS result; never move backwards.
    if (cur !== undefined && cur.electedChanges > desc.electedChanges) return;
    if (cur !== undefined && cur.electedChanges === desc.electedChanges && cur.replica === desc.replica && cur.receivedAt > desc.receivedAt) return;
    m.set(cluster, desc);
  }

  private markSeen(tenant: string, cluster: string, replica: string, now: number): void {
    let t = this.seen.get(tenant);
    if (t === undefined) this.seen.set(tenant, (t = new Map()));
    let c = t.get(cluster);
    if (c === undefined) t.set(cluster, (c = new Map()));
    c.set(replica, now);
  }

  private jitterFor(key: string): number {
    let j = this.jitter.get(key);
    if (j === undefined) {
      j = this.cfg.updateTimeoutJitterMaxMs > 0 ? Math.floor(Math.random() * this.cfg.updateTimeoutJitterMaxMs) : 0;
      this.jitter.set(key, j);
    }
    return j;
  }

  /**
   * Decides whether samples from `replica` of `cluster` are stored. Resolves without touching the KV
   * unless an election, a failover or a periodic receivedAt update is due. KV errors reject.
   */
  async check(tenant: string, cluster: string, replica: string, now: number, maxClusters: number): Promise<Decision> {
    this.markSeen(tenant, cluster, replica, now);
    const clusters = this.clusters(tenant);
    const cur = clusters.get(cluster);
    const key = kvKey(tenant, cluster);
    if (cur !== undefined && cur.replica === replica) {
      if (now - cur.receivedAt < this.cfg.updateTimeoutMs + this.jitterFor(key)) return { kind: 'accept', failoverFrom: null };
    } else if (cur !== undefined) {
      if (now - cur.receivedAt < this.cfg.failoverTimeoutMs) return { kind: 'dedupe', elected: cur.replica };
    } else if (maxClusters > 0 && clusters.size >= maxClusters) {
      return { kind: 'too_many_clusters', limit: maxClusters };
    }
    let failoverFrom: string | null = null;
    let wrote = false;
    const stored = await this.kv.cas(key, (kvCur) => {
      failoverFrom = null;
      wrote = false;
      if (kvCur === null) {
        wrote = true;
        return { replica, receivedAt: now, electedAt: now, electedChanges: 0 };
      }
      if (kvCur.replica === replica) {
        if (now <= kvCur.receivedAt) return null;
        wrote = true;
        return { ...kvCur, receivedAt: now };
      }
      if (now - kvCur.receivedAt < this.cfg.failoverTimeoutMs) return null; // the leader is alive after all
      failoverFrom = kvCur.replica;
      wrote = true;
      return { replica, receivedAt: now, electedAt: now, electedChanges: kvCur.electedChanges + 1 };
    });
    if (wrote) this.kvWrites++;
    if (stored === null) return { kind: 'accept', failoverFrom: null };
    this.store(tenant, cluster, stored);
    if (stored.replica !== replica) return { kind: 'dedupe', elected: stored.replica };
    if (failoverFrom !== null) {
      this.events.onFailover?.(tenant, cluster, failoverFrom, replica);
    } else if (cur === undefined && stored.electedChanges === 0 && stored.electedAt === now) {
      this.events.onElection?.(tenant, cluster, replica);
    }
    return { kind: 'accept', failoverFrom };
  }

  status(): ClusterStatus[] {
    const out: ClusterStatus[] = [];
    for (const [tenant, clusters] of this.elected) {
      for (const [cluster, d] of clusters) {
        const seen = this.seen.get(tenant)?.get(cluster);
        out.push({
          tenant,
          cluster,
          elected: d.replica,
          electedAt: d.electedAt,
          receivedAt: d.receivedAt,
          failovers: d.electedChanges,
          lastSeen: seen ? Object.fromEntries(seen) : {},
        });
      }
    }
    out.sort((a, b) => (a.tenant === b.tenant ? (a.cluster < b.cluster ? -1 : 1) : a.tenant < b.tenant ? -1 : 1));
    return out;
  }

  async close(): Promise<void> {
    this.unwatch();
  }
}
