/**
 * In-process KV for `argus all` and single-node receivers. Behaves like the etcd backend (JSON copies,
 * asynchronous ordered watch callbacks, KVClosedError after close) so code tested against one runs on the
 * other. Several clients may share one MemoryKVStore, the way several receivers share one etcd.
 */
import { assertKey, decodeValue, encodeValue, KVClosedError, safeCall, type KV } from './kv.js';

type Listener = (key: string, json: string | null) => void;

/** The shared state: JSON text per key, and the prefix listeners of every client. */
export class MemoryKVStore {
  private readonly data = new Map<string, string>();
  private readonly listeners = new Set<{ prefix: string; fn: Listener }>();

  read(key: string): string | undefined {
    return this.data.get(key);
  }

  write(key: string, json: string): void {
    this.data.set(key, json);
    this.notify(key, json);
  }

  remove(key: string): void {
    // Like etcd: deleting a missing key is not an event.
    if (this.data.delete(key)) this.notify(key, null);
  }

  entries(prefix: string): [string, string][] {
    const out: [string, string][] = [];
    for (const [k, v] of this.data) if (k.startsWith(prefix)) out.push([k, v]);
    // etcd returns keys in byte order; keep list() output the same.
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  subscribe(prefix: string, fn: Listener): () => void {
    const l = { prefix, fn };
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private notify(key: string, json: string | null): void {
    for (const l of this.listeners) if (key.startsWith(l.prefix)) l.fn(key, json);
  }
}

export function createMemoryKV<T>(opts: { store?: MemoryKVStore } = {}): KV<T> {
  const store = opts.store ?? new MemoryKVStore();
  const unsubscribers = new Set<() => void>();
  let closed = false;

  const check = (): void => {
    if (closed) throw new KVClosedError();
  };
  const read = (key: string): T | null => {
    const json = store.read(key);
    return json === undefined ? null : decodeValue<T>(key, json);
  };

  return {
    async get(key) {
      check();
      assertKey(key);
      return read(key);
    },

    async cas(key, update) {
      check();
      assertKey(key);
      // Read, update and write happen in one synchronous stretch, so there is never a conflict to retry.
      const next = update(read(key));
      if (next === null || next === undefined) return read(key);
      const json = encodeValue(key, next);
      store.write(key, json);
      return decodeValue<T>(key, json);
    },

    async delete(key) {
      check();
      assertKey(key);
      store.remove(key);
    },

    async list(prefix) {
      check();
      const out = new Map<string, T>();
      for (const [k, json] of store.entries(prefix)) out.set(k, decodeValue<T>(k, json));
      return out;
    },

    watchPrefix(prefix, onChange) {
      check();
      let active = true;
      const unsubscribe = store.subscribe(prefix, (key, json) => {
        // Asynchronous like etcd: the writer's call returns before any watcher runs. Parsed per watcher so
        // each one gets its own copy.
        queueMicrotask(() => {
          if (!active || closed) return;
          let value: T | null = null;
          if (json !== null) {
            try {
              value = decodeValue<T>(key, json);
            } catch (e) {
              console.error(String(e));
              return;
            }
          }
          safeCall(onChange, key, value);
        });
      });
      const stop = (): void => {
        active = false;
        unsubscribe();
        unsubscribers.delete(stop);
      };
      unsubscribers.add(stop);
      return stop;
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const stop of [...unsubscribers]) stop();
    },
  };
}
