/**
 * Blocks written by the real Prometheus tooling (Debian promtool 2.42, `tsdb create-blocks-from
 * openmetrics`), served from a MemoryBucket by the store gateway: every series and sample equals what the
 * in-memory reader gets from the same directories, and equals the input.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';

import { labelsFromObject } from '../../src/model/labels.js';
import { Matcher, MatchType } from '../../src/model/matcher.js';
import { MemoryBucket } from '../../src/objstore/index.js';
import { MergeQuerier } from '../../src/storage/merge.js';
import { openBlock } from '../../src/tsdb/block/index.js';
import { BucketStore } from '../../src/store/index.js';
import { requirePeer } from '../support/peers.js';
import { rng } from '../support/random.js';
import { labelsKey, readSet, uploadBlockDir } from './helpers.js';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'argus-store-promtool-'));
after(() => rmSync(root, { recursive: true, force: true }));

// Values whose UTF-8 and UTF-16 orders differ (U+FF21 vs U+1F600), escapes, non-ASCII.
const ODD = ['Ａ', '😀', 'é', 'quote"back\\slash', 'new\nline', 'plain'];

test('promtool-written blocks served from a bucket: same answers as the in-memory reader and as the input', async (t) => {
  const bin = requirePeer(t, 'promtool');
  if (bin === null) return;
  const r = rng(4242);
  const T0 = 1_700_003_600_000; // not aligned: promtool cuts the data into several 2h blocks
  const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  const lines: string[] = [];
  const expected = new Map<string, { ts: number[]; vs: number[] }>();
  for (let m = 0; m < 4; m++) {
    const name = `promtool_store_metric_${m}`;
    lines.push(`# TYPE ${name} gauge`);
    for (let i = 0; i < 30; i++) {
      const obj: Record<string, string> = { __name__: name, instance: `h${i}:9100`, job: `job_${i % 3}` };
      if (i % 3 === 0) obj.odd = ODD[i % ODD.length]!;
      const pairs = Object.entries(obj)
        .filter(([k]) => k !== '__name__')
        .map(([k, v]) => `${k}="${esc(v)}"`)
        .join(',');
      const ts: number[] = [];
      const vs: number[] = [];
      for (let t = T0 + Math.floor(r() * 10_000); t < T0 + 7 * 3_600_000; t += 30_000) {
        const v = Math.round((r() * 2000 - 1000) * 1000) / 1000;
        lines.push(`${name}{${pairs}} ${v} ${t / 1000}`);
        ts.push(t);
        vs.push(v);
      }
      expected.set(labelsKey(labelsFromObject(obj)), { ts, vs });
    }
  }
  lines.push('# EOF', '');
  const input = join(root, 'input.om.txt');
  writeFileSync(input, lines.join('\n'));
  const out = join(root, 'blocks');
  try {
    await run(bin, ['tsdb', 'create-blocks-from', 'openmetrics', input, out], { timeout: 60_000 });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`promtool tsdb create-blocks-from failed: ${e.message}\n${e.stderr ?? ''}`);
  }
  const ulids = readdirSync(out).filter((n) => /^[0-9A-Z]{26}$/.test(n));
  assert.ok(ulids.length >= 3, `promtool wrote ${ulids.length} blocks`);

  const bucket = new MemoryBucket();
  for (const u of ulids) await uploadBlockDir(bucket, join(out, u));
  const store = new BucketStore({ bucket, cacheBytes: 256 * 1024 });
  const res = await store.sync();
  assert.equal(res.blocks, ulids.length, JSON.stringify(res));
  const reference = new MergeQuerier((await Promise.all(ulids.map((u) => openBlock(join(out, u))))).map((b) => b.querier()));

  // Everything, against the input.
  const all = await readSet(store.querier().select({ start: T0 - 1, end: T0 + 8 * 3_600_000 }, []));
  assert.equal(all.length, expected.size);
  let samples = 0;
  for (const s of all) {
    const want = expected.get(s.key);
    assert.ok(want, `unexpected series ${s.key}`);
    assert.deepEqual([...s.ts], want.ts, `timestamps of ${s.key}`);
    assert.deepEqual([...new Float64Array(s.bits.buffer)], want.vs, `values of ${s.key}`);
    samples += s.ts.length;
  }

  // Matchers and ranges, against the in-memory reader of the same directories.
  const m = (n: string, ty: MatchType, v: string) => new Matcher(ty, n, v);
  const cases: [number, number, Matcher[]][] = [
    [T0 - 1, T0 + 8 * 3_600_000, [m('odd', MatchType.Regexp, '.+')]],
    [T0 + 3_600_000, T0 + 3 * 3_600_000, [m('job', MatchType.NotEqual, 'job_1')]],
    [T0 + 5_000_000, T0 + 5_000_000, [m('__name__', MatchType.Regexp, 'promtool_store_metric_[02]'), m('odd', MatchType.Equal, '')]],
    [T0, T0 + 8 * 3_600_000, [m('odd', MatchType.NotRegexp, 'Ａ|😀')]],
  ];
  for (const [start, end, ms] of cases) {
    assert.deepEqual(await readSet(store.querier().select({ start, end }, ms)), await readSet(reference.select({ start, end }, ms)), ms.join(','));
    assert.deepEqual(await store.querier().labelValues('odd', { start, end }, ms), await reference.labelValues('odd', { start, end }, ms));
  }
  t.diagnostic(`${ulids.length} promtool blocks, ${all.length} series, ${samples} samples; ${store.stats().requests} range requests`);
});
