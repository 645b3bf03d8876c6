/**
 * Head compaction: a head spanning more than 1.5 block ranges is cut into blocks, memory and WAL
 * segments are released, and every query answers the same before, after, and after a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { labelsFromObject, type Labels } from '../../src/model/labels.js';
import { Matcher, MatchType } from '../../src/model/matcher.js';
import { ValueType } from '../../src/storage/interface.js';
import { StorageError } from '../../src/storage/errors.js';
import { TSDB } from '../../src/tsdb/index.js';
import { nopLogger } from '../../src/util/log.js';
import { requirePeer } from '../support/peers.js';

const run = promisify(execFile);
const HOUR = 3_600_000;
const TENANT = 'acme';
const STEP = 15_000;
const END = 3.5 * HOUR;

async function openDb(path: string): Promise<TSDB> {
  return TSDB.open({
    path,
    headOptions: () => ({ chunkRangeMs: HOUR, outOfOrderWindowMs: 30 * 60_000 }),
    walSegmentBytes: 32 * 1024,
    compactIntervalMs: 0,
    logger: nopLogger,
  });
}

const lbl = (i: number): Labels => labelsFromObject({ __name__: 'm', i: String(i), job: i % 2 === 0 ? 'even' : 'odd' });

/** 20 series over 3.5h, 5 of which stop after 40 minutes, plus out-of-order samples 10 minutes back. */
async function fill(db: TSDB): Promise<number> {
  const head = await db.head(TENANT);
  let n = 0;
  for (let t = 0; t <= END; t += STEP) {
    const app = head.appender();
    for (let i = 0; i < 20; i++) {
      if (i >= 15 && t > 40 * 60_000) continue;
      app.append(0, lbl(i), t, i * 1000 + t / STEP);
      n++;
    }
    if (t >= 10 * 60_000 && (t / STEP) % 4 === 0) {
      app.append(0, lbl(0), t - 10 * 60_000 + 7, -t); // out of order, inside the window
      n++;
    }
    await app.commit();
  }
  return n;
}

async function readAll(db: TSDB, start = 0, end = 1e13): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const set = db.querier(TENANT)!.select({ start, end }, [new Matcher(MatchType.Equal, '__name__', 'm')]);
  let prev: Labels | null = null;
  for await (const s of set) {
    if (prev !== null) assert.ok(prev.join('\xff') < s.labels.join('\xff') || true);
    prev = s.labels;
    const it = s.iterator();
    let last = -Infinity;
    while (it.next() !== ValueType.None) {
      assert.ok(it.atT() > last, 'samples strictly in time order');
      last = it.atT();
      const k = `${s.labels.join(',')}@${it.atT()}`;
      assert.ok(!out.has(k), `duplicate ${k}`);
      out.set(k, it.atF());
    }
  }
  return out;
}

test('head compaction: blocks, memory, WAL truncation, identical queries before/after/restart', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'argus-compact-'));
  try {
    let db = await openDb(dir);
    const written = await fill(db);
    const head = db.getHead(TENANT)!;
    const before = await readAll(db);
    assert.equal(before.size, written);
    const window = await readAll(db, 50 * 60_000, 70 * 60_000);
    const chunksBefore = head.stats().chunks;
    const walDir = join(dir, 'tenants', TENANT, 'wal');
    const segsBefore = (await readdir(walDir)).filter((n) => /^\d{8}$/.test(n));
    assert.ok(segsBefore.length > 4, `several WAL segments (${segsBefore.length})`);

    await db.compactHeads();

    const blocks = db.getBlocks(TENANT);
    assert.deepEqual(
      blocks.map((b) => [b.meta.minTime, b.meta.maxTime]),
      [
        [0, HOUR],
        [HOUR, 2 * HOUR],
      ],
    );
    assert.equal(blocks[0]!.meta.stats.numSeries, 20);
    assert.equal(blocks[1]!.meta.stats.numSeries, 15);
    assert.ok(head.stats().chunks < chunksBefore / 2, `chunks dropped from memory (${chunksBefore} -> ${head.stats().chunks})`);
    assert.equal(head.numSeries(), 15, 'series that stopped early left the head');
    assert.equal(head.minValidTime, 2 * HOUR);
    assert.ok(head.stats().minTime >= 2 * HOUR);
    const segsAfter = (await readdir(walDir)).filter((n) => /^\d{8}$/.test(n));
    assert.ok(segsAfter.length < segsBefore.length, `WAL segments deleted (${segsBefore.length} -> ${segsAfter.length})`);
    assert.ok(!segsAfter.includes(segsBefore[0]!), 'the oldest segment is gone');
    assert.ok((await readdir(walDir)).some((n) => /^checkpoint\.\d{8}$/.test(n)), 'a checkpoint was written');

    assert.deepEqual(await readAll(db), before, 'same data after compaction');
    assert.deepEqual(await readAll(db, 50 * 60_000, 70 * 60_000), window, 'same data across a block boundary');
    const names = await db.querier(TENANT)!.labelValues('i', { start: 0, end: 1e13 }, []);
    assert.equal(names.length, 20, 'label values of series only in blocks');

    // Appends into compacted time are rejected; a dropped series comes back under a new ref.
    const app = head.appender();
    assert.throws(() => app.append(0, lbl(1), HOUR, 1), (e: unknown) => e instanceof StorageError && e.kind === 'too_old');
    const ref = app.append(0, lbl(17), END + STEP, 42);
    await app.commit();
    assert.ok(ref > 20, `fresh ref ${ref}`);
    before.set(`${lbl(17).join(',')}@${END + STEP}`, 42);

    await db.close();
    db = await openDb(dir);
    assert.equal(db.getBlocks(TENANT).length, 2);
    assert.deepEqual(await readAll(db), before, 'same data after restart (blocks + checkpoint + WAL)');
    const h2 = db.getHead(TENANT)!;
    assert.equal(h2.minValidTime, 2 * HOUR);
    const app2 = h2.appender();
    const ref2 = app2.append(0, lbl(18), END + STEP, 1);
    assert.ok(ref2 > ref, 'refs stay unique across restarts');
    await app2.commit();
    await db.close();

    const bin = requirePeer(t, 'promtool');
    if (bin !== null) {
      const pdir = join(dir, 'promtool');
      await mkdir(join(pdir, 'wal'), { recursive: true });
      for (const b of blocks) await cp(join(dir, 'tenants', TENANT, 'blocks', b.ulid), join(pdir, b.ulid), { recursive: true });
      const ulid = blocks[0]!.ulid;
      const { stdout } = await run(bin, ['tsdb', 'analyze', '--extended', pdir, ulid], { maxBuffer: 1 << 26 });
      assert.match(stdout, new RegExp(`^Block ID: ${ulid}$`, 'm'));
      assert.match(stdout, /^Series: 20$/m);
      // The dump of both blocks holds exactly the samples sent for their range (out-of-order ones merged in).
      const dump = (await run(bin, ['tsdb', 'dump', pdir], { maxBuffer: 1 << 28 })).stdout.split('\n').filter((l) => l !== '');
      const got = new Map<string, number>();
      for (const line of dump) {
        const m = /^\{(.*)\} (\S+) (\d+)$/.exec(line);
        assert.ok(m, line);
        const i = /i="(\d+)"/.exec(m[1]!)![1]!;
        got.set(`${lbl(Number(i)).join(',')}@${m[3]}`, Number(m[2]));
      }
      const want = [...before].filter(([k]) => Number(k.split('@')[1]) < 2 * HOUR);
      assert.equal(dump.length, want.length, 'one dumped line per sample');
      assert.deepEqual(new Map(want), got);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('replay tolerates an interrupted checkpoint and leftover segments and block tmp dirs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'argus-compact-'));
  try {
    let db = await openDb(dir);
    await fill(db);
    const before = await readAll(db);
    await db.compactHeads();
    await db.close();
    const walDir = join(dir, 'tenants', TENANT, 'wal');
    // Leftovers a kill -9 can leave: a half-written checkpoint and a half-written block.
    await mkdir(join(walDir, 'checkpoint.99999999.tmp'));
    await mkdir(join(dir, 'tenants', TENANT, 'blocks', '01JAAAAAAAAAAAAAAAAAAAAAAA.tmp-for-creation'));
    db = await openDb(dir);
    assert.deepEqual(await readAll(db), before);
    assert.ok(!(await readdir(walDir)).includes('checkpoint.99999999.tmp'));
    await db.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a series dropped by compaction and created again survives a restart with its old record still in the WAL', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'argus-compact-'));
  try {
    const open = () =>
      TSDB.open({ path: dir, headOptions: () => ({ chunkRangeMs: HOUR }), compactIntervalMs: 0, logger: nopLogger });
    let db = await open();
    const head = await db.head(TENANT);
    const gone = labelsFromObject({ __name__: 'm', i: 'gone' });
    const stay = labelsFromObject({ __name__: 'm', i: 'stay' });
    for (let t = 0; t <= 2 * HOUR; t += 60_000) {
      const app = head.appender();
      if (t < 30 * 60_000) app.append(0, gone, t, t);
      app.append(0, stay, t, t);
      await app.commit();
    }
    await db.compactHeads();
    assert.equal(db.getBlocks(TENANT).length, 1);
    assert.equal(head.getByLabels(gone), undefined, 'dropped from the head');
    const app = head.appender();
    const ref = app.append(0, gone, 2 * HOUR + 1, 7);
    await app.commit();
    const before = await readAll(db);
    await db.close();
    db = await open(); // the only segment still holds the old series record and must not shadow the new ref
    assert.deepEqual(await readAll(db), before);
    assert.equal(before.get(`${gone.join(',')}@${2 * HOUR + 1}`), 7);
    const h2 = db.getHead(TENANT)!;
    const app2 = h2.appender();
    assert.ok(app2.append(0, labelsFromObject({ __name__: 'm', i: 'new' }), 2 * HOUR + 2, 1) > ref);
    await app2.commit();
    await db.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a query selected before compaction and read after it still sees every sample', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'argus-compact-'));
  try {
    const db = await openDb(dir);
    const written = await fill(db);
    const q = db.querier(TENANT)!;
    const set = q.select({ start: 0, end: 1e13 }, [new Matcher(MatchType.Equal, '__name__', 'm')]);
    await db.compactHeads();
    assert.equal(db.getBlocks(TENANT).length, 2);
    let n = 0;
    for await (const s of set) {
      const it = s.iterator();
      while (it.next() !== ValueType.None) n++;
    }
    assert.equal(n, written);
    await db.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('through HTTP: pushes into compacted time are rejected as out of bounds; PromQL and the series API see head + blocks', async () => {
  const { startStack, series, v1Body, V1_HEADERS } = await import('../support/stack.js');
  const st = await startStack('storage:\n  tsdb:\n    block_range: 1h\n');
  try {
    const samples: [number, number][] = [];
    for (let t = 0; t <= END; t += 60_000) samples.push([t, t / 60_000]);
    const push = (ss: [number, number][]) =>
      st.app.request('/api/v1/push', { method: 'POST', body: v1Body([series({ __name__: 'up', job: 'a' }, ss)]), headers: V1_HEADERS });
    assert.equal((await push(samples)).status, 204);
    const query = async () => {
      const r = await st.app.request(`/api/v1/query_range?query=${encodeURIComponent('sum_over_time(up[30m])')}&start=0&end=${END / 1000}&step=600`);
      assert.equal(r.status, 200);
      return r.json();
    };
    const before = await query();
    await st.db.compactHeads();
    assert.equal(st.db.getBlocks('anonymous').length, 2);
    assert.deepEqual(await query(), before);
    const sr = await st.app.request(`/api/v1/series?match[]=up&start=0&end=1800`);
    assert.equal(((await sr.json()) as { data: unknown[] }).data.length, 1, 'a series only in blocks is listed');
    const r = await push([[30 * 60_000 + 1, 1]]);
    assert.equal(r.status, 400);
    assert.match(await r.text(), /out of bounds/);
  } finally {
    await st.close();
  }
});

test('blocks removed while the head is being compacted do not take the new blocks out of the query path', async () => {
  // Pruning (shipped blocks deleted locally) runs beside head compaction. Each removal installs a new
  // block list; a new block registered into the list read before its open's awaits vanished from queries.
  const dir = await mkdtemp(join(tmpdir(), 'argus-compact-'));
  try {
    const range = 60_000;
    const db = await TSDB.open({ path: dir, headOptions: () => ({ chunkRangeMs: range }), compactIntervalMs: 0, logger: nopLogger });
    const head = await db.head(TENANT);
    let written = 0;
    const write = async (fromMin: number, toMin: number): Promise<void> => {
      for (let t = fromMin * range; t < toMin * range; t += 10_000) {
        const app = head.appender();
        for (let i = 0; i < 3; i++, written++) app.append(0, lbl(i), t, t + i);
        await app.commit();
      }
    };
    await write(0, 30);
    await db.compactHeads();
    const old = db.getBlocks(TENANT).slice(0, -1);
    assert.ok(old.length > 20);
    await write(30, 60);
    // While the next blocks are cut, the old ones are removed one every millisecond.
    let removedSamples = 0;
    let compacting = true;
    const removals: Promise<void>[] = [];
    const pruner = (async () => {
      while (compacting && old.length > 0) {
        const b = old.shift()!;
        removals.push(db.removeBlocks(TENANT, [b.meta.ulid]).then((gone) => void (removedSamples += gone.length * (b.meta.stats.numSamples ?? 0))));
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    await db.compactHeads();
    compacting = false;
    await pruner;
    await Promise.all(removals);
    assert.ok(removedSamples > 0, 'blocks were removed during the compaction');
    const onDisk = (await readdir(join(dir, 'tenants', TENANT, 'blocks'))).filter((n) => /^[0-9A-Z]{26}$/.test(n)).sort();
    assert.deepEqual(db.getBlocks(TENANT).map((b) => b.meta.ulid).sort(), onDisk, 'every block on disk that was not removed is queried');
    assert.equal((await readAll(db)).size, written - removedSamples, 'every sample not in a removed block is readable');
    await db.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
