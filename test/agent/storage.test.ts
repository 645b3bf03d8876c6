/**
 * The agent's WAL-only storage: what a commit writes, replay, ordering checks, concurrent appenders,
 * series garbage collection with checkpoints, torn tails; and property tests of the segment reader
 * (the decoder the queues tail the WAL with), the ack tracker, position files and Retry-After parsing.
 */
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  AckTracker,
  AgentStorage,
  SegmentCursor,
  WalCorruptionError,
  desiredShards,
  fileNameFor,
  parsePosition,
  parseRetryAfter,
  withExternalLabels,
} from '../../src/agent/index.js';
import { labelsFromObject, labelsToString, type Labels } from '../../src/model/labels.js';
import { STALE_NAN } from '../../src/model/value.js';
import { StorageError } from '../../src/storage/errors.js';
import { REC_META, REC_SAMPLES, REC_SERIES, Wal, decodeMetaRecord, decodeSamplesRecord, decodeSeriesRecord } from '../../src/tsdb/wal/index.js';
import { readWholeFile } from '../../src/agent/storage/segments.js';
import { bits, captureLogger } from './remote-support.js';
import { nopLogger } from '../../src/util/log.js';

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'argus-agentst-'));
}

type Rec = { type: 'series'; entries: [number, string][] } | { type: 'samples'; refs: number[]; ts: number[]; vbits: string[] } | { type: 'meta'; nextRef: number };

function decodeRec(p: Uint8Array): Rec {
  if (p[0] === REC_SERIES) {
    const entries: [number, string][] = [];
    decodeSeriesRecord(p, (ref, ls) => entries.push([ref, labelsToString(ls)]));
    return { type: 'series', entries };
  }
  if (p[0] === REC_SAMPLES) {
    const c = decodeSamplesRecord(p);
    return { type: 'samples', refs: [...c.refs], ts: [...c.ts], vbits: [...c.vs].map(bits) };
  }
  if (p[0] === REC_META) return { type: 'meta', nextRef: decodeMetaRecord(p).nextRef };
  throw new Error(`unknown record type ${p[0]}`);
}

/** Every record of the WAL's segments, in order. */
async function walRecords(st: AgentStorage): Promise<Rec[]> {
  const out: Rec[] = [];
  for (const seg of await st.segments()) await readWholeFile(st.segmentPath(seg), (p) => out.push(decodeRec(p)));
  return out;
}

const L = (o: Record<string, string>): Labels => labelsFromObject(o);

test('AgentStorage: a commit writes the series record before the samples; reopening keeps refs and gives new series fresh ones', async () => {
  const dir = await tmp();
  try {
    let st = await AgentStorage.open({ dir, logger: nopLogger });
    const a = L({ __name__: 'up', job: 'a' });
    const b = L({ __name__: 'up', job: 'b' });
    const app = st.appender();
    const ra = app.append(0, a, 1000, 1);
    const rb = app.append(0, b, 1000, STALE_NAN);
    assert.equal(app.append(ra, a, 2000, 2), ra);
    await app.commit();
    assert.deepEqual(await walRecords(st), [
      { type: 'series', entries: [[ra, 'up{job="a"}'], [rb, 'up{job="b"}']] },
      { type: 'samples', refs: [ra, rb, ra], ts: [1000, 1000, 2000], vbits: [bits(1), bits(STALE_NAN), bits(2)] },
    ]);
    await st.close();

    st = await AgentStorage.open({ dir, logger: nopLogger });
    assert.equal(st.seriesCount(), 2);
    const app2 = st.appender();
    assert.equal(app2.append(0, a, 3000, 3), ra, 'same labels, same ref after replay');
    const rc = app2.append(0, L({ __name__: 'up', job: 'c' }), 3000, 1);
    assert.ok(rc > Math.max(ra, rb));
    assert.throws(() => app2.append(0, a, 1500, 9), (e: unknown) => e instanceof StorageError && e.kind === 'out_of_order' && /up\{job="a"\}/.test(e.message), 'replay restored the newest timestamp');
    await app2.commit();
    const recs = await walRecords(st);
    assert.deepEqual(recs.slice(2), [
      { type: 'series', entries: [[rc, 'up{job="c"}']] },
      { type: 'samples', refs: [ra, rc], ts: [3000, 3000], vbits: [bits(3), bits(1)] },
    ]);
    await st.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('AgentStorage ordering: out-of-order and changed duplicates are refused, identical duplicates dropped, rollback forgets staged samples', async () => {
  const dir = await tmp();
  try {
    const st = await AgentStorage.open({ dir, logger: nopLogger });
    const s = L({ __name__: 'x' });
    let app = st.appender();
    app.append(0, s, 100, 1);
    await app.commit();
    app = st.appender();
    assert.throws(() => app.append(0, s, 99, 1), (e: unknown) => e instanceof StorageError && e.kind === 'out_of_order');
    assert.throws(() => app.append(0, s, 100, 2), (e: unknown) => e instanceof StorageError && e.kind === 'duplicate_timestamp');
    app.append(0, s, 100, 1); // identical: dropped silently
    app.append(0, s, 200, 5);
    app.rollback();
    app = st.appender();
    app.append(0, s, 200, 5); // allowed again after the rollback
    await app.commit();
    assert.throws(() => st.appender().append(0, ['job', 'x', '__name__', 'y'], 1, 1), /invalid series .*not sorted/);
    assert.throws(() => st.appender().append(0, [], 1, 1), (e: unknown) => e instanceof StorageError && e.kind === 'invalid' && /no labels/.test(e.message));
    assert.throws(() => st.appender().append(0, ['__name__', 'x', 'job', ''], 1, 1), /empty value/);
    assert.throws(() => st.appender().append(0, s, 1.5, 1), /not an integer/);
    const samples = (await walRecords(st)).filter((r) => r.type === 'samples');
    assert.deepEqual(samples.map((r) => (r.type === 'samples' ? r.ts : [])), [[100], [200]]);
    await st.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('AgentStorage: concurrent appenders creating one series write its record before any of its samples, whichever commits first', async () => {
  const dir = await tmp();
  try {
    const st = await AgentStorage.open({ dir, logger: nopLogger });
    for (let round = 0; round < 20; round++) {
      const s = L({ __name__: 'c', round: String(round) });
      const a = st.appender();
      const b = st.appender();
      const ref = a.append(0, s, 1000, 1);
      assert.equal(b.append(0, s, 2000, 2), ref);
      // b commits first (or both together): its commit must carry the series record.
      await Promise.all(round % 2 === 0 ? [b.commit(), a.commit()] : [b.commit().then(() => a.commit())]);
    }
    const defined = new Set<number>();
    for (const r of await walRecords(st)) {
      if (r.type === 'series') for (const [ref] of r.entries) defined.add(ref);
      if (r.type === 'samples') for (const ref of r.refs) assert.ok(defined.has(ref), `samples of ref ${ref} before its series record`);
    }
    await st.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('AgentStorage.truncate: idle series are collected and left out of the checkpoint, live ones kept; refs are never reused after a restart', async () => {
  const dir = await tmp();
  let now = 1_000_000;
  const opts = { dir, logger: nopLogger, segmentBytes: 1024, seriesIdleMs: 60_000, now: () => now };
  try {
    let st = await AgentStorage.open(opts);
    const idle = L({ __name__: 'idle' });
    const live = Array.from({ length: 5 }, (_, i) => L({ __name__: 'live', i: String(i) }));
    let app = st.appender();
    const idleRef = app.append(0, idle, 1, 1);
    await app.commit();
    now += 120_000;
    let maxRef = idleRef;
    for (let k = 0; k < 100; k++) {
      app = st.appender();
      for (const s of live) maxRef = Math.max(maxRef, app.append(0, s, 1000 + k, k));
      await app.commit();
    }
    const seg = st.committed().segment;
    assert.ok(seg >= 3, `segments rolled (${seg})`);
    const res = await st.truncate(seg);
    assert.equal(res.collectedSeries, 1);
    assert.equal(res.deletedSegments, seg, 'every segment before the keep point is gone');
    assert.equal(st.seriesCount(), 5);
    const cp: Rec[] = [];
    await readWholeFile(st.checkpointFile(), (p) => cp.push(decodeRec(p)));
    assert.deepEqual(cp[0], { type: 'meta', nextRef: maxRef + 1 });
    const inCp = cp.flatMap((r) => (r.type === 'series' ? r.entries.map((e) => e[1]) : []));
    assert.deepEqual(inCp.sort(), live.map(labelsToString).sort());
    await st.close();

    st = await AgentStorage.open(opts);
    assert.equal(st.seriesCount(), 5);
    app = st.appender();
    const again = app.append(0, idle, 10, 1);
    assert.ok(again > maxRef, `a collected series comes back with a fresh ref (${again} > ${maxRef})`);
    await app.commit();
    await st.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('AgentStorage: a torn WAL tail is cut at open and logged; appending continues', async () => {
  const dir = await tmp();
  try {
    let st = await AgentStorage.open({ dir, logger: nopLogger });
    const app = st.appender();
    app.append(0, L({ __name__: 'x' }), 1, 1);
    await app.commit();
    await st.close();
    const seg = (await readdir(join(dir, 'wal'))).find((n) => /^\d{8}$/.test(n))!;
    await appendFile(join(dir, 'wal', seg), Buffer.from([40, 0, 0, 0, 1, 2, 3, 4, 5]));
    const { logger, lines } = captureLogger();
    st = await AgentStorage.open({ dir, logger });
    assert.ok(st.replayReport?.truncated !== null);
    assert.ok(lines.some((l) => l.includes('torn or corrupt tail') && l.includes('dropped_bytes=9')), lines.join(''));
    const app2 = st.appender();
    app2.append(0, L({ __name__: 'x' }), 2, 2);
    await app2.commit();
    const samples = (await walRecords(st)).filter((r) => r.type === 'samples');
    assert.equal(samples.length, 2);
    await st.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('SegmentCursor (property): every framed record comes back, across any chunk size and read limit', async () => {
  const dir = await tmp();
  try {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 25 }),
        fc.integer({ min: 1, max: 512 }),
        async (payloads, chunk) => {
          const path = join(dir, `seg-${run++}`);
          const framed = payloads.map((p) => Wal.frame(p));
          await writeFile(path, Buffer.concat(framed));
          const ends: number[] = [];
          framed.reduce((off, f) => (ends.push(off + f.length), off + f.length), 0);
          // Read to a record boundary in the middle, then on to the end, as the watcher does.
          const mid = ends.length > 0 ? ends[Math.floor(ends.length / 2)]! : 0;
          const cur = await SegmentCursor.open(path, 0, chunk);
          const got: number[][] = [];
          try {
            for (const limit of [mid, ends.at(-1) ?? 0]) {
              for (let p = await cur.next(limit); p !== null; p = await cur.next(limit)) got.push([...p]);
              assert.equal(cur.pos, limit);
            }
          } finally {
            await cur.close();
          }
          assert.deepEqual(got, payloads.map((p) => [...p]));
        },
      ),
      { numRuns: 150 },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('SegmentCursor (fuzz): damaged bytes give the intact records before the damage, then a WalCorruptionError naming the offset', async () => {
  const dir = await tmp();
  try {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 100 }), { minLength: 1, maxLength: 10 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 64 }),
        async (payloads, flips, chunk) => {
          const buf = Buffer.concat(payloads.map((p) => Wal.frame(p)));
          const firstDamage = Math.min(...flips.map(([at]) => at % buf.length));
          for (const [at, b] of flips) buf[at % buf.length] = b;
          const path = join(dir, `bad-${run++}`);
          await writeFile(path, buf);
          const cur = await SegmentCursor.open(path, 0, chunk);
          const got: Uint8Array[] = [];
          let err: unknown = null;
          try {
            for (let p = await cur.next(buf.length); p !== null; p = await cur.next(buf.length)) got.push(p.slice());
          } catch (e) {
            err = e;
          } finally {
            await cur.close();
          }
          if (err !== null) {
            assert.ok(err instanceof WalCorruptionError, String(err));
            assert.match(err.message, new RegExp(`at offset ${cur.pos}:`));
          }
          // Records wholly before the first changed byte come back unchanged.
          let off = 0;
          for (let i = 0; i < payloads.length && off + 8 + payloads[i]!.length <= firstDamage; i++) {
            assert.deepEqual([...got[i]!], [...payloads[i]!]);
            off += 8 + payloads[i]!.length;
          }
        },
      ),
      { numRuns: 200 },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('AckTracker (model): the position is the end of the longest prefix of sealed, fully acknowledged records', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 30 }), fc.array(fc.nat(), { maxLength: 200 }), (sizes, order) => {
      const t = new AckTracker({ segment: 0, offset: 0 });
      const units = sizes.map((n, i) => {
        const id = t.open(0, (i + 1) * 10);
        t.add(id, n);
        t.seal(id);
        return { id, left: n };
      });
      const pending = units.flatMap((u) => Array.from({ length: u.left }, () => u));
      // Acknowledge samples in an arbitrary order, checking the position after each.
      for (let k = 0; pending.length > 0; k++) {
        const u = pending.splice((order[k] ?? 0) % pending.length, 1)[0]!;
        u.left--;
        t.done(u.id, 1);
        let prefix = 0;
        while (prefix < units.length && units[prefix]!.left === 0) prefix++;
        assert.deepEqual(t.acked, { segment: 0, offset: prefix * 10 });
      }
      assert.deepEqual(t.acked, { segment: 0, offset: sizes.length * 10 });
    }),
    { numRuns: 300 },
  );
});

test('position files: names escape every unsafe character; parsePosition accepts only non-negative integers and names the file otherwise (fuzz)', () => {
  assert.equal(fileNameFor('main'), 'main.json');
  assert.equal(fileNameFor('../x y'), '%2e.%2fx%20y.json');
  assert.deepEqual(parsePosition('{"segment":3,"offset":10,"queue":"a"}', 'f'), { segment: 3, offset: 10 });
  assert.throws(() => parsePosition('{"segment":-1,"offset":0}', '/q/a.json'), /position file \/q\/a\.json: segment is -1/);
  assert.throws(() => parsePosition('{"segment":1}', 'f'), /offset is undefined/);
  assert.throws(() => parsePosition('nope', 'f'), /position file f is not JSON/);
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.json(), fc.constant('{"segment":1.5,"offset":0}')), (s) => {
      try {
        const p = parsePosition(s, 'f');
        assert.ok(Number.isSafeInteger(p.segment) && p.segment >= 0 && Number.isSafeInteger(p.offset) && p.offset >= 0);
      } catch (e) {
        assert.ok(e instanceof Error && /position file f/.test(e.message), String(e));
      }
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.string(), (name) => {
      const f = fileNameFor(name);
      assert.match(f, /^[A-Za-z0-9_%-][A-Za-z0-9_.%-]*\.json$/);
    }),
  );
});

test('parseRetryAfter: seconds or an HTTP date; anything else is ignored (fuzz: never throws, never negative)', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('7', now), 7000);
  assert.equal(parseRetryAfter(' 0 ', now), 0);
  assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now), 30_000);
  assert.equal(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now), 0);
  assert.equal(parseRetryAfter('Wednesday, 01-Jan-25 00:00:05 GMT', now), 5000);
  for (const bad of ['', '-1', '1.5', 'soon', '2025-01-01', undefined]) assert.equal(parseRetryAfter(bad, now), undefined, String(bad));
  fc.assert(
    fc.property(fc.string(), (s) => {
      const v = parseRetryAfter(s, now);
      assert.ok(v === undefined || (Number.isFinite(v) && v >= 0));
    }),
    { numRuns: 1000 },
  );
});

test('external labels: the series keeps its own values, the result stays sorted (property)', () => {
  const name = fc.constantFrom('__name__', 'a', 'b', 'cluster', 'job', 'zz');
  const lbls = fc.dictionary(name, fc.string({ minLength: 1, maxLength: 3 })).map((o) => labelsFromObject(o));
  fc.assert(
    fc.property(lbls, lbls, (s, ext) => {
      const out = withExternalLabels(s, ext);
      const so = Object.fromEntries(Array.from({ length: s.length / 2 }, (_, i) => [s[2 * i], s[2 * i + 1]]));
      const eo = Object.fromEntries(Array.from({ length: ext.length / 2 }, (_, i) => [ext[2 * i], ext[2 * i + 1]]));
      assert.deepEqual(out, labelsFromObject({ ...eo, ...so }));
    }),
  );
});

test('desiredShards: follows load and backlog within [min, max], ignores small changes, holds still while sends fail', () => {
  const base = { current: 4, min: 1, max: 10, inRatePerSec: 0, msPerSample: 0.1, pending: 0, healthy: true };
  // 10k samples/s at 0.1 ms each = 1 shard busy; +30% headroom -> 2.
  assert.equal(desiredShards({ ...base, inRatePerSec: 10_000 }), 2);
  assert.equal(desiredShards({ ...base, inRatePerSec: 60_000 }), 8);
  assert.equal(desiredShards({ ...base, inRatePerSec: 60_000, pending: 1_000_000 }), 10, 'backlog pushes up to max_shards');
  assert.equal(desiredShards({ ...base, inRatePerSec: 28_000 }), 4, 'a change of less than 30% is ignored');
  assert.equal(desiredShards({ ...base, inRatePerSec: 1_000_000, healthy: false }), 4);
  assert.equal(desiredShards({ ...base, current: 20, inRatePerSec: 1e6 }), 10, 'clamped after max_shards shrank');
  assert.equal(desiredShards({ ...base, inRatePerSec: 100 }), 1, 'little load: min_shards');
  assert.equal(desiredShards({ ...base, inRatePerSec: 0, msPerSample: 0 }), 4, 'no measurement, no change');
});

test('AgentStorage: two open appenders staging one series keep exact duplicate checks (each commit lists the series once)', async () => {
  const dir = await tmp();
  try {
    const st = await AgentStorage.open({ dir, logger: nopLogger });
    const s = L({ __name__: 'shared' });
    const a = st.appender();
    const b = st.appender();
    const ref = a.append(0, s, 1000, 1);
    // Staged only by `a` (which may roll back): `b` stages its own copy.
    assert.equal(b.append(ref, s, 1000, 1), ref);
    // `a` staged it itself: dropped, whoever touched the series last.
    a.append(ref, s, 1000, 1);
    b.append(ref, s, 1000, 1);
    a.append(ref, s, 2000, 2);
    await a.commit();
    await b.commit();
    const recs = await walRecords(st);
    const series = recs.filter((r) => r.type === 'series').flatMap((r) => (r.type === 'series' ? r.entries : []));
    assert.deepEqual(series.map(([r]) => r), [ref], 'one series record entry');
    const samples = recs.filter((r) => r.type === 'samples').map((r) => (r.type === 'samples' ? r.ts : []));
    assert.deepEqual(samples, [[1000, 2000], [1000]]);
    // Ownership ended with the commits: a new appender sees the committed state only.
    const c = st.appender();
    assert.throws(() => c.append(ref, s, 1500, 0), /out of order/);
    c.rollback();
    await st.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('AgentStorage: the WAL is fsynced periodically, not per commit; every commit is readable (whole records) when it resolves', async () => {
  const dir = await tmp();
  try {
    const st = await AgentStorage.open({ dir, logger: nopLogger, walSyncIntervalMs: 60_000 });
    for (let i = 0; i < 5; i++) {
      const a = st.appender();
      a.append(0, L({ __name__: 'p', i: String(i) }), 1000 + i, i);
      await a.commit();
      // The queues' read limit moved to the end of this commit's records.
      const recs = await walRecords(st);
      assert.equal(recs.filter((r) => r.type === 'samples').length, i + 1);
    }
    const wal = (st as unknown as { wal: Wal }).wal;
    assert.equal(wal.fsyncs, 0, 'no fsync per commit');
    await st.close();
    const again = await AgentStorage.open({ dir, logger: nopLogger });
    assert.equal(again.seriesCount(), 5);
    await again.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
