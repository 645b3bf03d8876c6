/**
 * The filesystem bucket: the acceptance suite, plus what only a directory can show (atomic writes leave
 * no temp files, ranged reads do not read the whole file, keys cannot escape the root).
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FilesystemBucket } from '../../src/objstore/index.js';
import { bucketAcceptance } from './acceptance.js';

const root = mkdtempSync(join(tmpdir(), 'argus-fs-bucket-'));
after(() => rmSync(root, { recursive: true, force: true }));

const bucket = new FilesystemBucket(join(root, 'acceptance'));
bucketAcceptance('filesystem', { bucket: () => bucket });

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p).map((x) => `${e.name}/${x}`), `${e.name}/`);
    else out.push(e.name);
  }
  return out.sort();
}

describe('filesystem bucket specifics', () => {
  test('objects are plain files under the root; no temp files or empty directories remain', async () => {
    const dir = join(root, 'layout');
    const b = new FilesystemBucket(dir);
    await b.put('01ARZ3NDEKTSV4RRFFQ69G5FAV/chunks/000001', new Uint8Array([1, 2, 3]));
    await b.put('01ARZ3NDEKTSV4RRFFQ69G5FAV/meta.json', new TextEncoder().encode('{}'));
    await Promise.all(Array.from({ length: 20 }, (_, i) => b.put('01ARZ3NDEKTSV4RRFFQ69G5FAV/index', new Uint8Array(1000).fill(i))));
    assert.deepEqual(walk(dir), [
      '01ARZ3NDEKTSV4RRFFQ69G5FAV/',
      '01ARZ3NDEKTSV4RRFFQ69G5FAV/chunks/',
      '01ARZ3NDEKTSV4RRFFQ69G5FAV/chunks/000001',
      '01ARZ3NDEKTSV4RRFFQ69G5FAV/index',
      '01ARZ3NDEKTSV4RRFFQ69G5FAV/meta.json',
    ]);
    await b.delete('01ARZ3NDEKTSV4RRFFQ69G5FAV/chunks/000001');
    assert.equal(existsSync(join(dir, '01ARZ3NDEKTSV4RRFFQ69G5FAV/chunks')), false, 'emptied directory removed');
    await b.delete('01ARZ3NDEKTSV4RRFFQ69G5FAV/index');
    await b.delete('01ARZ3NDEKTSV4RRFFQ69G5FAV/meta.json');
    assert.equal(existsSync(join(dir, '01ARZ3NDEKTSV4RRFFQ69G5FAV')), false);
    assert.equal(existsSync(dir), true, 'the root itself stays');
  });

  test('listings hide temp files and directories that hold no object', async () => {
    const dir = join(root, 'leftovers');
    const b = new FilesystemBucket(dir);
    await b.put('a/x', new Uint8Array([1]));
    // What a crash mid-put leaves behind, and an empty directory from outside.
    writeFileSync(join(dir, 'a', '.argus-tmp-0123456789abcdef'), 'partial');
    mkdirSync(join(dir, 'empty', 'deeper'), { recursive: true });
    writeFileSync(join(dir, 'empty', 'deeper', '.argus-tmp-feed'), 'partial');
    const list = async (p: string, recursive = false): Promise<string[]> => {
      const out: string[] = [];
      for await (const k of b.iter(p, { recursive })) out.push(k);
      return out;
    };
    assert.deepEqual(await list(''), ['a/']);
    assert.deepEqual(await list('', true), ['a/x']);
    assert.deepEqual(await list('a/'), ['a/x']);
    await assert.rejects(b.put('a/.argus-tmp-x', new Uint8Array(1)), /reserved/);
  });

  test('getRange reads only the range (a 64 MiB sparse file, one byte read)', async () => {
    const dir = join(root, 'sparse');
    const b = new FilesystemBucket(dir);
    mkdirSync(dir, { recursive: true });
    const { open } = await import('node:fs/promises');
    const fh = await open(join(dir, 'huge'), 'w');
    await fh.truncate(64 << 20);
    await fh.write(new Uint8Array([42]), 0, 1, (64 << 20) - 1);
    await fh.close();
    const before = process.memoryUsage().arrayBuffers;
    const got = await b.getRange('huge', (64 << 20) - 1, Number.MAX_SAFE_INTEGER);
    assert.deepEqual([...got], [42]);
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(grown < 8 << 20, `a ranged read allocated ${grown} bytes`);
  });

  test('keys cannot leave the root', async () => {
    const b = new FilesystemBucket(join(root, 'jail'));
    for (const k of ['../escape', 'a/../../escape', '/etc/passwd']) {
      await assert.rejects(b.get(k), /invalid object key/);
      await assert.rejects(b.put(k, new Uint8Array(1)), /invalid object key/);
      await assert.rejects(b.delete(k), /invalid object key/);
    }
    await assert.rejects(async () => {
      for await (const _ of b.iter('../')) void _;
    }, /invalid object key/);
    assert.equal(existsSync(join(root, 'escape')), false);
  });

  test('an object where a directory is needed is a clear error', async () => {
    const b = new FilesystemBucket(join(root, 'clash'));
    await b.put('a', new Uint8Array([1]));
    await assert.rejects(b.put('a/b', new Uint8Array([1])), /put "a\/b": cannot create directory/);
    await b.put('c/d', new Uint8Array([1]));
    await assert.rejects(b.put('c', new Uint8Array([1])), /put "c" failed/);
  });
});
