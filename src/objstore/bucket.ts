/**
 * The object-store seam. Every backend (filesystem, memory, S3) implements `Bucket` and passes one
 * acceptance suite (test/objstore/). Keys are '/'-separated paths without a leading '/', as in Thanos's
 * bucket layout: `<ULID>/meta.json`, `<ULID>/index`, `<ULID>/chunks/000001`.
 *
 * Semantics every backend keeps:
 * - `put` replaces the whole object atomically: a reader sees the old object or the new one, never a mix.
 * - `get`/`getRange`/`attributes` of a missing key reject with `ObjectNotFoundError`.
 * - `getRange` past the end returns the bytes that exist (possibly none); a range starting past the end
 *   returns an empty array.
 * - `delete` of a missing key succeeds (deletion is idempotent; crash recovery relies on it).
 * - `iter(prefix)` yields keys in ascending byte order. Without `recursive` it lists one level, as
 *   S3 does with delimiter '/': plain objects by full key, and "directories" as their prefix ending in '/'.
 */
export interface ObjectAttributes {
  size: number;
  /** Milliseconds since the epoch. */
  lastModified: number;
}

export interface IterOptions {
  /** List every key under the prefix instead of one level. */
  recursive?: boolean;
}

export interface Bucket {
  /** A short description for logs and metrics, e.g. `filesystem:/data/bucket` or `s3:my-bucket`. */
  readonly name: string;
  get(key: string, signal?: AbortSignal): Promise<Uint8Array>;
  getRange(key: string, offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array>;
  exists(key: string): Promise<boolean>;
  attributes(key: string): Promise<ObjectAttributes>;
  put(key: string, body: Uint8Array): Promise<void>;
  /** Uploads a local file (streamed; chunk segments are up to 512 MiB). */
  putFile(key: string, path: string): Promise<void>;
  delete(key: string): Promise<void>;
  iter(prefix: string, opts?: IterOptions): AsyncIterable<string>;
  close(): Promise<void>;
}

export class ObjectNotFoundError extends Error {
  readonly key: string;
  constructor(bucket: string, key: string) {
    super(`object ${JSON.stringify(key)} not found in bucket ${bucket}`);
    this.name = 'ObjectNotFoundError';
    this.key = key;
  }
}

export function isNotFound(err: unknown): err is ObjectNotFoundError {
  return err instanceof ObjectNotFoundError;
}

/** Rejects keys a backend could misinterpret (absolute, `..`, empty segments). */
export function checkKey(key: string): void {
  if (key === '' || key.startsWith('/') || key.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new Error(`invalid object key ${JSON.stringify(key)}: keys are '/'-separated relative paths without empty, '.' or '..' segments`);
  }
}
