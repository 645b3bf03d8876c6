/** An in-memory bucket for tests and tools: same semantics as the others, nothing persists. */
import { readFile } from 'node:fs/promises';
import { checkKey, ObjectNotFoundError, type Bucket, type IterOptions, type ObjectAttributes } from './bucket.js';

interface Entry {
  body: Uint8Array;
  lastModified: number;
}

export class MemoryBucket implements Bucket {
  readonly name = 'memory';
  private readonly objects = new Map<string, Entry>();
  /** Counters tests use to prove that reads were ranged, not whole. */
  readonly stats = { gets: 0, getRanges: 0, bytesRead: 0, puts: 0 };

  private entry(key: string): Entry {
    const e = this.objects.get(key);
    if (e === undefined) throw new ObjectNotFoundError(this.name, key);
    return e;
  }

  async get(key: string): Promise<Uint8Array> {
    const e = this.entry(key);
    this.stats.gets++;
    this.stats.bytesRead += e.body.length;
    return e.body.slice();
  }

  async getRange(key: string, offset: number, length: number): Promise<Uint8Array> {
    const e = this.entry(key);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) throw new RangeError(`invalid range offset=${offset} length=${length} for ${key}`);
    const out = e.body.slice(offset, Math.min(e.body.length, offset + length));
    this.stats.getRanges++;
    this.stats.bytesRead += out.length;
    return out;
  }

  async exists(key: string): Promise<boolean> {
    return this.objects.has(key);
  }

  async attributes(key: string): Promise<ObjectAttributes> {
    const e = this.entry(key);
    return { size: e.body.length, lastModified: e.lastModified };
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    checkKey(key);
    this.stats.puts++;
    this.objects.set(key, { body: body.slice(), lastModified: Date.now() });
  }

  async putFile(key: string, path: string): Promise<void> {
    await this.put(key, new Uint8Array(await readFile(path)));
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }

  async *iter(prefix: string, opts: IterOptions = {}): AsyncIterable<string> {
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort(compareBytes);
    if (opts.recursive) {
      yield* keys;
      return;
    }
    let last = '';
    for (const k of keys) {
      const slash = k.indexOf('/', prefix.length);
      const item = slash < 0 ? k : k.slice(0, slash + 1);
      if (item !== last) yield item;
      last = item;
    }
  }

  async close(): Promise<void> {}
}

/** Byte order of the UTF-8 encodings (what S3 lists by), not UTF-16 code-unit order. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
