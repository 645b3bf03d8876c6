/**
 * A compacted block, downloaded from the bucket, read by the real Prometheus tools (Debian prometheus
 * 2.42's promtool): `tsdb analyze --extended` reads every chunk, `tsdb dump` prints exactly the samples of
 * the source blocks (deduplicated, merged), with copied and re-encoded chunks in the same block.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';

import { Compactor } from '../../src/compact/index.js';
import { labelsFromObject, labelsKey } from '../../src/model/labels.js';
import { STALE_NAN } from '../../src/model/value.js';
import { MemoryBucket } from '../../src/objstore/index.js';
import { requirePeer } from '../support/peers.js';
import { HOUR, T0, cleanupScratch, expected, keys, makeSeries, scratch, uploadBlock, type SeriesData } from './helpers.js';

const run = promisify(execFile);
after(cleanupScratch);

async function promtool(bin: string, args: string[]): Promise<string> {
  try {
    return (await run(bin, args, { maxBuffer: 256 * 1024 * 1024 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`promtool ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

/** `{a="1", b="2"} value ts` with plain label values (our test data has no escapes). */
function parseDump(line: string): { key: string; t: number; v: number } {
  const m = /^\{(.*)\} (\S+) (-?\d+)$/.exec(line);
  assert.ok(m, `dump line ${line}`);
  const obj: Record<string, string> = {};
  for (const pair of m[1]!.split(', ')) {
    const eq = pair.indexOf('=');
    obj[pair.slice(0, eq)] = JSON.parse(pair.slice(eq + 1)) as string;
  }
  const vs = m[2]!;
  const v = vs === '+Inf' ? Infinity : vs === '-Inf' ? -Infinity : Number(vs);
  return { key: labelsKey(labelsFromObject(obj)), t: Number(m[3]), v };
}

test('promtool tsdb analyze and dump read a compacted block: exactly the merged samples', async (t) => {
  const bin = requirePeer(t, 'promtool');
  if (bin === null) return;
  const bucket = new MemoryBucket();
  // Replica A covers 2h; replica B (same samples) started 30 min late and cut its chunks at 90 samples, so
  // the merged block holds copied chunks (before B started) and re-encoded ones (where both overlap).
  const full = makeSeries(40, T0, T0 + 2 * HOUR, 15_000, (i, ts) => (i % 2 ? ts / 1000 : Math.sin(ts / 1e6) * 1e3));
  full[5]!.vs[300] = STALE_NAN;
  full[6]!.vs[10] = NaN;
  full[7]!.vs[20] = -Infinity;
  const part: SeriesData[] = full.map((s) => {
    const idx = s.ts.map((_, i) => i).filter((i) => s.ts[i]! >= T0 + 30 * 60_000);
    return { labels: s.labels, ts: idx.map((i) => s.ts[i]!), vs: Float64Array.from(idx.map((i) => s.vs[i]!)) };
  });
  await uploadBlock(bucket, full, { minT: T0, maxT: T0 + 2 * HOUR, ext: { cluster: 'c', replica: 'A' } });
  await uploadBlock(bucket, part, { minT: T0, maxT: T0 + 2 * HOUR, ext: { cluster: 'c', replica: 'B' }, perChunk: 90 });
  const sum = await new Compactor({ bucket, now: () => T0 + 3 * HOUR, replicaLabels: ['replica'] }).runOnce();
  assert.equal(sum.compactions.length, 1);
  const res = sum.compactions[0]!;
  assert.ok(res.stats.chunksCopied > 0 && res.stats.chunksEncoded > 0, `copied ${res.stats.chunksCopied}, encoded ${res.stats.chunksEncoded}`);
  const ulid = res.block!.ulid;

  const dataDir = await scratch();
  await mkdir(join(dataDir, 'wal'), { recursive: true }); // dump opens the directory as a read-only DB
  for (const k of (await keys(bucket)).filter((k) => k.startsWith(ulid + '/'))) {
    await mkdir(dirname(join(dataDir, k)), { recursive: true });
    await writeFile(join(dataDir, k), await bucket.get(k));
  }

  const analyze = await promtool(bin, ['tsdb', 'analyze', '--extended', dataDir, ulid]);
  assert.match(analyze, new RegExp(`^Block ID: ${ulid}$`, 'm'));
  assert.match(analyze, /^Series: 40$/m);
  assert.match(analyze, /^Compaction analysis:$/m, 'the extended analysis read every chunk');
  t.diagnostic(`promtool tsdb analyze: ${analyze.split('\n').slice(0, 5).join('; ')}`);

  const dump = await promtool(bin, ['tsdb', 'dump', dataDir]);
  const lines = dump.split('\n').filter((l) => l !== '');
  const want = expected(full);
  let total = 0;
  for (const w of want.values()) total += w.ts.length;
  assert.equal(lines.length, total, 'one line per sample, no duplicates');
  const got = new Map<string, { ts: number[]; vs: number[] }>();
  for (const line of lines) {
    const p = parseDump(line);
    const e = got.get(p.key) ?? got.set(p.key, { ts: [], vs: [] }).get(p.key)!;
    e.ts.push(p.t);
    e.vs.push(p.v);
  }
  const byKey = new Map(full.map((s) => [labelsKey(s.labels), s]));
  assert.equal(got.size, 40);
  for (const [key, s] of byKey) {
    const e = got.get(key)!;
    assert.deepEqual(e.ts, s.ts, `timestamps of ${key}`);
    s.ts.forEach((ts, i) => {
      const w = s.vs[i]!;
      // The dump prints %g: the shortest text that parses back to the same float; NaN payloads are not printed.
      assert.ok(Number.isNaN(w) ? Number.isNaN(e.vs[i]!) : Object.is(w, e.vs[i]), `${key} at ${ts}: ${e.vs[i]} != ${w}`);
    });
  }
  t.diagnostic(`promtool tsdb dump: ${lines.length} samples in 40 series, ${res.stats.chunksCopied} chunks copied, ${res.stats.chunksEncoded} re-encoded`);
});
