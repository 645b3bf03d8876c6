/**
 * A bucket in a local directory: key `a/b/c` is the file `<root>/a/b/c`. Used by `argus all` and by
 * single-machine setups, with the same semantics as S3 (see bucket.ts):
 * - `put` writes a temp file beside the target, fsyncs it, renames it over the target and fsyncs the
 *   directory, so a reader or a crash sees the old object or the new one, never a torn one;
 * - `getRange` reads only the requested bytes;
 * - directories exist only while they hold objects: `delete` removes the parents it empties.
 *
 * A key cannot be both an object and a "directory" here (`a` and `a/b`), unlike on S3; Thanos's layout
 * never needs that.
 */
import { mkdir, open, readdir, readFile, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { syncDir } from '../util/fs.js';
import { checkKey, ObjectNotFoundError, type Bucket, type IterOptions, type ObjectAttributes } from './bucket.js';
import { compareBytes } from './memory.js';

/** Temp files of in-flight puts start with this; listings hide them and keys may not use it. */
const TMP_PREFIX = '.argus-tmp-';
/** putFile copies through a buffer of this size. */
const COPY_CHUNK = 1 << 20;

function errCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** Errors that mean "no such object": the path, or a parent of it, is missing or not a directory. */
function isMissing(err: unknown): boolean {
  const c = errCode(err);
  return c === 'ENOENT' || c === 'ENOTDIR' || c === 'EISDIR';
}

export class FilesystemBucket implements Bucket {
  readonly name: string;
  readonly root: string;

  constructor(root: string) {
    if (root === '') throw new Error('filesystem bucket: directory must not be empty');
    this.root = resolve(root);
    this.name = `filesystem:${this.root}`;
  }

  /** The file for `key`; throws a clear error for keys that could escape the root or clash with temp files. */
  private path(key: string): string {
    checkKey(key);
    const parts = key.split('/');
    for (const p of parts) {
      if (p.startsWith(TMP_PREFIX)) {
        throw new Error(`invalid object key ${JSON.stringify(key)}: segments starting with ${TMP_PREFIX} are reserved for the filesystem bucket's temp files`);
      }
      if (p.includes('\0')) throw new Error(`invalid object key ${JSON.stringify(key)}: NUL bytes are not allowed in file names`);
    }
    return join(this.root, ...parts);
  }

  private notFound(key: string): ObjectNotFoundError {
    return new ObjectNotFoundError(this.name, key);
  }

  private fail(op: string, key: string, err: unknown): Error {
    if (isMissing(err)) return this.notFound(key);
    return new Error(`${this.name}: ${op} ${JSON.stringify(key)} failed: ${(err as Error).message}`, { cause: err });
  }

  async get(key: string, signal?: AbortSignal): Promise<Uint8Array> {
    const p = this.path(key);
    try {
      const buf = await readFile(p, { signal });
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw this.fail('get', key, err);
    }
  }

  async getRange(key: string, offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    checkRange(this.name, key, offset, length);
    const p = this.path(key);
    let fh: FileHandle;
    try {
      fh = await open(p, 'r');
    } catch (err) {
      throw this.fail('getRange', key, err);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw this.notFound(key);
      // Never allocate more than what exists past `offset` (callers may ask for "the rest" with a huge length).
      const want = Math.max(0, Math.min(length, st.size - offset));
      const out = new Uint8Array(want);
      let got = 0;
      while (got < want) {
        signal?.throwIfAborted();
        const { bytesRead } = await fh.read(out, got, want - got, offset + got);
        if (bytesRead === 0) break; // truncated under us: return what exists, as S3 would
        got += bytesRead;
      }
      return got === want ? out : out.subarray(0, got);
    } catch (err) {
      if (err instanceof ObjectNotFoundError || (err as Error).name === 'AbortError') throw err;
      throw this.fail('getRange', key, err);
    } finally {
      await fh.close();
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.path(key))).isFile();
    } catch (err) {
      if (isMissing(err)) return false;
      throw this.fail('exists', key, err);
    }
  }

  async attributes(key: string): Promise<ObjectAttributes> {
    let st;
    try {
      st = await stat(this.path(key));
    } catch (err) {
      throw this.fail('attributes', key, err);
    }
    if (!st.isFile()) throw this.notFound(key);
    return { size: st.size, lastModified: Math.floor(st.mtimeMs) };
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    await this.writeAtomically(key, async (fh) => {
      let off = 0;
      while (off < body.length) {
        const { bytesWritten } = await fh.write(body, off, body.length - off);
        off += bytesWritten;
      }
    });
  }

  async putFile(key: string, path: string): Promise<void> {
    // Open the source first: a missing source file is the caller's error, not the bucket's.
    let src: FileHandle;
    try {
      src = await open(path, 'r');
    } catch (err) {
      throw new Error(`${this.name}: putFile ${JSON.stringify(key)}: cannot read source file ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      // A plain read/write loop through one buffer: file-handle streams with autoClose off keep a
      // reference that makes FileHandle.close() wait forever, and nothing here needs a stream.
      await this.writeAtomically(key, async (fh) => {
        const buf = new Uint8Array(COPY_CHUNK);
        for (let pos = 0; ; ) {
          const { bytesRead } = await src.read(buf, 0, buf.length, pos);
          if (bytesRead === 0) break;
          for (let off = 0; off < bytesRead; ) off += (await fh.write(buf, off, bytesRead - off)).bytesWritten;
          pos += bytesRead;
        }
      });
    } finally {
      await src.close();
    }
  }

  /**
   * Writes via `fill` into a fresh temp file in the target's directory, fsyncs, renames over the target and
   * fsyncs the directory (and any directories it had to create). A concurrent `delete` may remove the
   * empty directory between mkdir and open: that is retried a few times.
   */
  private async writeAtomically(key: string, fill: (fh: FileHandle) => Promise<void>): Promise<void> {
    const target = this.path(key);
    const dir = dirname(target);
    for (let attempt = 1; ; attempt++) {
      let created: string | undefined;
      try {
        created = await mkdir(dir, { recursive: true });
      } catch (err) {
        throw new Error(`${this.name}: put ${JSON.stringify(key)}: cannot create directory ${dir}: ${(err as Error).message}`, { cause: err });
      }
      const tmp = join(dir, `${TMP_PREFIX}${randomBytes(8).toString('hex')}`);
      let fh: FileHandle;
      try {
        fh = await open(tmp, 'wx');
      } catch (err) {
        if (errCode(err) === 'ENOENT' && attempt < 5) continue;
        throw new Error(`${this.name}: put ${JSON.stringify(key)}: cannot create temp file in ${dir}: ${(err as Error).message}`, { cause: err });
      }
      try {
        try {
          await fill(fh);
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, target);
      } catch (err) {
        await unlink(tmp).catch(() => undefined);
        if (errCode(err) === 'ENOENT' && attempt < 5) continue;
        const hint = errCode(err) === 'EISDIR' ? ' (a "directory" of that name holds other objects)' : '';
        throw new Error(`${this.name}: put ${JSON.stringify(key)} failed${hint}: ${(err as Error).message}`, { cause: err });
      }
      await syncDir(dir);
      // New directories are durable only once their own parents are synced.
      if (created !== undefined) {
        for (let d = dir; d.length >= created.length; d = dirname(d)) await syncDir(dirname(d));
      }
      return;
    }
  }

  async delete(key: string): Promise<void> {
    const p = this.path(key);
    try {
      await unlink(p);
    } catch (err) {
      if (isMissing(err)) return;
      throw new Error(`${this.name}: delete ${JSON.stringify(key)} failed: ${(err as Error).message}`, { cause: err });
    }
    // Remove the directories this delete emptied, as S3 has no empty "directories" to list.
    for (let d = dirname(p); d !== this.root && d.startsWith(this.root); d = dirname(d)) {
      try {
        await rmdir(d);
      } catch {
        break; // not empty (or already gone, or re-used by a concurrent put): stop here
      }
    }
  }

  async *iter(prefix: string, opts: IterOptions = {}): AsyncIterable<string> {
    // `prefix` is a plain key prefix: its directory part names where to look, the rest filters names.
    const slash = prefix.lastIndexOf('/');
    const dirPart = prefix.slice(0, slash + 1);
    const namePart = prefix.slice(slash + 1);
    if (dirPart !== '') this.path(dirPart.slice(0, -1)); // validates: no '..', no empty segments
    const dir = dirPart === '' ? this.root : join(this.root, ...dirPart.slice(0, -1).split('/'));
    const entries = await this.listDir(dir, prefix);
    for (const e of entries) {
      if (!e.name.startsWith(namePart)) continue;
      const key = dirPart + e.name;
      if (!e.isDir) yield key;
      else if (opts.recursive) yield* this.walk(join(dir, e.name), key + '/', prefix);
      else if (await this.holdsObject(join(dir, e.name))) yield key + '/';
    }
  }

  /**
   * Entries of `dir` sorted so that a depth-first walk yields keys in byte order: a directory sorts as its
   * name plus '/', which is how its keys compare with its siblings.
   */
  private async listDir(dir: string, prefix: string): Promise<{ name: string; isDir: boolean }[]> {
    let dirents;
    try {
      dirents = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return [];
      throw new Error(`${this.name}: iter ${JSON.stringify(prefix)}: cannot read ${dir}: ${(err as Error).message}`, { cause: err });
    }
    const out: { name: string; isDir: boolean; sortKey: string }[] = [];
    for (const d of dirents) {
      if (d.name.startsWith(TMP_PREFIX)) continue;
      const isDir = d.isDirectory();
      if (!isDir && !d.isFile()) continue;
      out.push({ name: d.name, isDir, sortKey: isDir ? d.name + '/' : d.name });
    }
    out.sort((a, b) => compareBytes(a.sortKey, b.sortKey));
    return out;
  }

  private async *walk(dir: string, keyPrefix: string, prefix: string): AsyncIterable<string> {
    for (const e of await this.listDir(dir, prefix)) {
      if (e.isDir) yield* this.walk(join(dir, e.name), keyPrefix + e.name + '/', prefix);
      else yield keyPrefix + e.name;
    }
  }

  /** Whether a directory holds at least one object (not just temp files or empty directories). */
  private async holdsObject(dir: string): Promise<boolean> {
    for (const e of await this.listDir(dir, '')) {
      if (!e.isDir) return true;
      if (await this.holdsObject(join(dir, e.name))) return true;
    }
    return false;
  }

  async close(): Promise<void> {}
}

/** Validates a byte range the same way for every backend. */
export function checkRange(bucket: string, key: string, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`${bucket}: invalid range for ${JSON.stringify(key)}: offset=${offset} length=${length} (non-negative integers)`);
  }
}
