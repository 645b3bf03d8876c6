/**
 * etcd backend of the HA tracker KV, for several receivers sharing tracker state (DESIGN.md §8).
 * CAS is an etcd transaction guarded by the key's mod_revision (create_revision == 0 when absent).
 * Prefix watches start at the revision of a snapshot read and re-watch after disconnects (the etcd3 client
 * resumes from the last revision seen) and after cancellation (e.g. compaction: resync from a new snapshot).
 */
import { Etcd3, type IOptions, type IKeyValue, type Watcher } from 'etcd3';
import {
  assertKey,
  casBackoffMs,
  decodeValue,
  DEFAULT_CAS_ATTEMPTS,
  encodeValue,
  KVClosedError,
  KVConflictError,
  safeCall,
  type KV,
} from './kv.js';

export interface EtcdKVOptions {
  endpoints: string[];
  /** Namespace for every key of this client (e.g. "argus/ha/"); invisible to callers. */
  prefix?: string;
  dialTimeoutMs?: number;
  /** Deadline of each unary call. Without one, a killed raft leader stalls writes for ~7 s (PEERS.md). */
  requestTimeoutMs?: number;
  username?: string;
  password?: string;
  /** How many read-modify-write rounds cas() tries before KVConflictError. */
  maxCasAttempts?: number;
}

type Backoff = NonNullable<NonNullable<IOptions['faultHandling']>['watchBackoff']>;

/** Re-watch quickly after a disconnect: 50 ms doubling to 1 s (the client's default grows to 30 s). */
function watchBackoff(ms: number): Backoff {
  return { duration: ms, next: () => watchBackoff(Math.min(1000, ms * 2)) };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function createEtcdKV<T>(opts: EtcdKVOptions): KV<T> {
  if (opts.endpoints.length === 0) throw new Error('kv: etcd needs at least one endpoint');
  const base = opts.prefix ?? '';
  const requestTimeoutMs = opts.requestTimeoutMs ?? 2000;
  const maxAttempts = opts.maxCasAttempts ?? DEFAULT_CAS_ATTEMPTS;
  const client = new Etcd3({
    hosts: opts.endpoints,
    // Declared by etcd3 1.1.2 but not read by it; passed as PEERS.md asks, in case a later version does.
    dialTimeout: opts.dialTimeoutMs ?? 1000,
    ...(opts.username !== undefined ? { auth: { username: opts.username, password: opts.password ?? '' } } : {}),
    // Streams (watches) live long; only unary calls get a deadline.
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + requestTimeoutMs }),
    faultHandling: { watchBackoff: watchBackoff(50) },
  });

  let closed = false;
  const watches = new Set<PrefixWatch>();
  const check = (): void => {
    if (closed) throw new KVClosedError();
  };
  const strip = (k: Buffer): string => k.toString('utf8').slice(base.length);
  const parse = (key: string, kv: IKeyValue | undefined): T | null =>
    kv === undefined ? null : decodeValue<T>(key, kv.value.toString('utf8'));

  class PrefixWatch {
    private stopped = false;
    private watcher: Watcher | null = null;
    // Keys seen under the prefix, so a resync can report deletes that happened while unwatched.
    private known = new Set<string>();
    private failures = 0;

    constructor(
      private readonly prefix: string,
      private readonly onChange: (key: string, value: T | null) => void,
    ) {
      void this.start(false);
    }

    private deliver(key: string, kv: IKeyValue | null): void {
      if (this.stopped || closed) return;
      let value: T | null = null;
      if (kv !== null) {
        try {
          value = parse(key, kv);
        } catch (e) {
          console.error(String(e));
          return;
        }
      }
      safeCall(this.onChange, key, value);
    }

    /** Snapshot the prefix, then watch from the snapshot's revision + 1 so nothing falls in between. */
    private async start(resync: boolean): Promise<void> {
      for (let attempt = 0; !this.stopped && !closed; attempt++) {
        try {
          const snap = await client.getAll().prefix(base + this.prefix).exec();
          if (this.stopped || closed) return;
          const present = new Set<string>();
          for (const kv of snap.kvs) {
            const key = strip(kv.key);
            present.add(key);
            if (resync) this.deliver(key, kv);
          }
          if (resync) for (const key of this.known) if (!present.has(key)) this.deliver(key, null);
          this.known = present;

          const w = client
            .watch()
            .prefix(base + this.prefix)
            .startRevision((BigInt(snap.header.revision) + 1n).toString())
            .watcher();
          w.on('put', (kv) => {
            const key = strip(kv.key);
            this.known.add(key);
            this.deliver(key, kv);
          });
          w.on('delete', (kv) => {
            const key = strip(kv.key);
            this.known.delete(key);
            this.deliver(key, null);
          });
          // Disconnects are handled inside etcd3 (it re-attaches from the last revision). 'error' means etcd
          // cancelled the watch (e.g. its start revision was compacted): the client has dropped it, so start
          // over from a fresh snapshot.
          w.on('error', (err) => {
            if (this.watcher !== w) return;
            this.watcher = null;
            if (this.stopped || closed) return;
            // Growing delay, so a watch etcd always refuses (e.g. no permission) is no busy loop.
            const delay = Math.min(1000, 50 * 2 ** this.failures++);
            console.error(`kv: etcd watch on ${JSON.stringify(this.prefix)} cancelled (${err.message}); resyncing`);
            setTimeout(() => void this.start(true), delay);
          });
          w.on('connected', () => {
            this.failures = 0;
          });
          this.watcher = w;
          return;
        } catch {
          // etcd unreachable: keep trying (bounded backoff) until it returns or the watch is stopped.
          await sleep(Math.min(1000, 50 * 2 ** attempt));
        }
      }
    }

    async stop(): Promise<void> {
      this.stopped = true;
      watches.delete(this);
      const w = this.watcher;
      this.watcher = null;
      if (w !== null) await w.cancel().catch(() => undefined);
    }
  }

  async function casRetrying(key: string, update: (current: T | null) => T | null): Promise<T | null> {
    const full = base + key;
    for (let attempt = 1; ; attempt++) {
      check(); // also for calls that queued behind others while the client was closed
      const kv = (await client.get(full).exec()).kvs[0];
      const next = update(parse(key, kv));
      // Leave unchanged: report what is stored (parsed again: `update` may have mutated its argument).
      if (next === null || next === undefined) return parse(key, kv);
      const json = encodeValue(key, next);
      // Put only if nobody wrote since our read: same mod_revision, or still absent (create_revision 0).
      const guard =
        kv === undefined ? client.if(full, 'Create', '==', 0) : client.if(full, 'Mod', '==', kv.mod_revision);
      const txn = await guard.then(client.put(full).value(json)).commit();
      if (txn.succeeded) return decodeValue<T>(key, json);
      if (attempt >= maxAttempts) throw new KVConflictError(key, attempt);
      await sleep(casBackoffMs(attempt));
    }
  }

  /**
   * Runs this client's cas() calls on one key one after another: they would only conflict with each other in
   * etcd (one receiver handling many requests for one cluster), wasting the bounded retries meant for races
   * with other receivers.
   */
  const keyQueues = new Map<string, Promise<unknown>>();
  function serialized<R>(key: string, fn: () => Promise<R>): Promise<R> {
    const prev = keyQueues.get(key) ?? Promise.resolve();
    const run = prev.then(fn);
    const tail = run.catch(() => undefined);
    keyQueues.set(key, tail);
    void tail.then(() => {
      if (keyQueues.get(key) === tail) keyQueues.delete(key);
    });
    return run;
  }

  return {
    async get(key) {
      check();
      assertKey(key);
      const res = await client.get(base + key).exec();
      return parse(key, res.kvs[0]);
    },

    async cas(key, update) {
      check();
      assertKey(key);
      return serialized(key, () => casRetrying(key, update));
    },

    async delete(key) {
      check();
      assertKey(key);
      await client.delete().key(base + key).exec();
    },

    async list(prefix) {
      check();
      const res = await client.getAll().prefix(base + prefix).exec();
      const out = new Map<string, T>();
      for (const kv of res.kvs) {
        const key = strip(kv.key);
        out.set(key, parse(key, kv) as T);
      }
      return out;
    },

    watchPrefix(prefix, onChange) {
      check();
      const w = new PrefixWatch(prefix, onChange);
      watches.add(w);
      return () => void w.stop();
    },

    async close() {
      if (closed) return;
      closed = true;
      // Detach watchers before closing the channel: with watchers attached, etcd3 would keep trying to
      // re-establish the stream on a closed client (a timer loop that keeps the process alive).
      // Bounded: a cancel needs etcd's answer, and etcd may be gone.
      let timer: NodeJS.Timeout | undefined;
      const stops = Promise.all([...watches].map((w) => w.stop()));
      await Promise.race([stops, new Promise<void>((r) => (timer = setTimeout(r, 1000)))]);
      clearTimeout(timer);
      client.close();
    },
  };
}
