/**
 * The HA tracker's key-value seam (Cortex/Mimir-style KV): JSON values under string keys, compare-and-swap,
 * prefix watches. Backends: kv-memory.ts (one process) and kv-etcd.ts (several receivers sharing state).
 * This file stays free of the etcd client so that importing the interface does not load gRPC.
 *
 * Semantics shared by both backends (test/receive/kv.test.ts holds them to it):
 * - keys are non-empty strings; values are stored as JSON text, so every value handed out is a fresh copy
 *   and mutating it never changes the store;
 * - list() and watch callbacks report full keys (the backend's own namespace prefix removed);
 * - watch callbacks run asynchronously, in commit order, for changes committed after the watch is
 *   established (shortly after watchPrefix() returns); a put of an unchanged value is still a put, a delete
 *   of a missing key is no event;
 * - after close() every call rejects with KVClosedError and watches fall silent.
 */
export interface KV<T> {
  get(key: string): Promise<T | null>;
  /** Read-modify-write: `update` gets the current value (null if none) and returns the new value, or null to leave it unchanged. Retries on conflict (bounded, with small backoff), resolves to the value stored afterwards. */
  cas(key: string, update: (current: T | null) => T | null): Promise<T | null>;
  delete(key: string): Promise<void>;
  /** All keys under prefix with their values. */
  list(prefix: string): Promise<Map<string, T>>;
  /** Calls onChange for every put/delete under prefix (value null on delete) until the returned function is called. Must survive transient etcd disconnects (re-watch). */
  watchPrefix(prefix: string, onChange: (key: string, value: T | null) => void): () => void;
  close(): Promise<void>;
}

export class KVClosedError extends Error {
  constructor() {
    super('kv: client is closed');
    this.name = 'KVClosedError';
  }
}

/** Thrown by cas() when every attempt lost the race; the caller may retry later. */
export class KVConflictError extends Error {
  constructor(key: string, attempts: number) {
    super(`kv: cas on ${JSON.stringify(key)} gave up after ${attempts} conflicting attempts`);
    this.name = 'KVConflictError';
  }
}

export const DEFAULT_CAS_ATTEMPTS = 10;

export function assertKey(key: string): void {
  // etcd rejects an empty key; the memory backend must fail the same way.
  if (typeof key !== 'string' || key.length === 0) throw new TypeError('kv: key must be a non-empty string');
}

/** JSON text of a value, refusing what JSON cannot carry (it would come back as something else). */
export function encodeValue(key: string, value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError(`kv: value for ${JSON.stringify(key)} is not JSON-serialisable`);
  return json;
}

export function decodeValue<T>(key: string, json: string): T {
  try {
    return JSON.parse(json) as T;
  } catch {
    throw new Error(`kv: value at ${JSON.stringify(key)} is not JSON: ${json.slice(0, 80)}`);
  }
}

/**
 * Full-jitter exponential backoff after the `attempt`-th conflict: up to 4, 8, 16 … 256 ms. Racing writers
 * spread out instead of colliding again; the first step is about one etcd write (fsync) long.
 */
export function casBackoffMs(attempt: number): number {
  return Math.random() * Math.min(256, 4 * 2 ** (attempt - 1));
}

/** A watch callback must not break the backend's event delivery; its errors are reported, not thrown. */
export function safeCall<T>(onChange: (key: string, value: T | null) => void, key: string, value: T | null): void {
  try {
    onChange(key, value);
  } catch (e) {
    console.error(`kv: watch callback failed for ${JSON.stringify(key)}:`, e);
  }
}
