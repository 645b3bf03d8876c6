// The storage benchmark's workload: the OpenMetrics file (read by promtool) and the remote-write requests
// (sent to Argus and VictoriaMetrics) must carry exactly the same samples, and the file must be what
// promtool reads back to the bit.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodedLabels, decodeWriteV1, snappyUncompress } from '../../src/codec/index.js';
import { Entry, OpenMetricsParser } from '../../src/exposition/index.js';
import { labelsFromObject, labelsKey, labelsToObject } from '../../src/model/labels.js';
import { NodeWorkload, openMetricsPrefix, RemoteWriteSlicer, writeOpenMetricsFiles, type OpenMetricsFile } from '../../bench/support/node-workload.js';
import { runTool } from '../../bench/support/command.js';
import { blockTotals, findBlocks, overlaps } from '../../bench/support/disk-usage.js';
import { requirePeer } from '../support/peers.js';

const HOUR = 3_600_000;
const END = Date.UTC(2026, 0, 10, 12, 0, 7);

/** series key → "t v" lines in order, with values as exact bit patterns. */
type Samples = Map<string, string[]>;

const bits = (v: number): string => Buffer.from(new Float64Array([v]).buffer).toString('hex');

function add(m: Samples, key: string, t: number, v: number): void {
  let l = m.get(key);
  if (l === undefined) m.set(key, (l = []));
  l.push(`${t} ${bits(v)}`);
}

function fromOpenMetrics(text: string): { samples: Samples; types: Map<string, string> } {
  const samples: Samples = new Map();
  const types = new Map<string, string>();
  const p = new OpenMetricsParser(text);
  for (let e = p.next(); e !== Entry.EOF; e = p.next()) {
    if (e === Entry.Type) types.set(p.metricName(), p.type());
    if (e !== Entry.Series) continue;
    assert.equal(p.type(), types.get(p.familyName()), `line ${p.line()}: sample of an undeclared family`);
    add(samples, labelsKey(p.labels()), p.timestamp()!, p.value());
  }
  return { samples, types };
}

function fromRemoteWrite(w: NodeWorkload, sliceScrapes: number): Samples {
  const samples: Samples = new Map();
  const slicer = new RemoteWriteSlicer(w, { sliceScrapes, shards: 3, samplesPerRequest: 500 });
  let prevEnd = -Infinity;
  for (let s = slicer.next(); s !== null; s = slicer.next()) {
    let n = 0;
    let minT = Infinity;
    for (const shard of s.shards) {
      for (const req of shard) {
        const d = decodeWriteV1(snappyUncompress(req.body, 64 << 20));
        let inReq = 0;
        for (let i = 0; i < d.seriesCount; i++) {
          const key = labelsKey(decodedLabels(d, i));
          for (let j = d.sampleStart[i]!; j < d.sampleStart[i + 1]!; j++) {
            add(samples, key, d.timestamps[j]!, d.values[j]!);
            minT = Math.min(minT, d.timestamps[j]!);
            inReq++;
          }
        }
        assert.equal(inReq, req.samples);
        n += inReq;
      }
    }
    assert.equal(n, s.samples);
    // Slices follow each other in time: a slice starts after every sample of the one before.
    assert.ok(minT > prevEnd - w.intervalMs, `slice ${s.k0} starts at ${minT}, before ${prevEnd}`);
    prevEnd = w.baseMs + s.k1 * w.intervalMs;
  }
  return samples;
}

/** Writes the workload as OpenMetrics files of `windowMs` and reads them all back, checking each file. */
async function viaOpenMetrics(w: NodeWorkload, windowMs: number): Promise<{ samples: Samples; files: OpenMetricsFile[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'argus-node-workload-'));
  const samples: Samples = new Map();
  const files: OpenMetricsFile[] = [];
  try {
    const total = await writeOpenMetricsFiles(w, { dir, windowMs }, async (f) => {
      const text = readFileSync(f.path, 'utf8');
      rmSync(f.path);
      assert.equal(f.bytes, Buffer.byteLength(text));
      assert.ok(text.endsWith('\n# EOF\n'));
      const om = fromOpenMetrics(text);
      assert.equal(om.types.get('node_cpu_seconds'), 'counter');
      assert.equal(om.types.get('node_memory_MemAvailable_bytes'), 'gauge');
      let n = 0;
      for (const [k, l] of om.samples) {
        for (const line of l) {
          const t = Number(line.split(' ')[0]);
          assert.ok(t >= f.startMs && t < f.endMs, `${k} at ${t} outside the file's window [${f.startMs}, ${f.endMs})`);
          add(samples, k, t, Buffer.from(line.split(' ')[1]!, 'hex').readDoubleLE(0));
          n++;
        }
      }
      assert.equal(n, f.samples);
      files.push(f);
    });
    assert.equal(total.files, files.length);
    assert.equal(total.samples, w.samples);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { samples, files };
}

test('node workload: OpenMetrics files and remote-write slices hold the same samples, bit for bit', async () => {
  const w = new NodeWorkload({ hosts: 1, spanMs: 3 * HOUR, intervalMs: 30_000, endMs: END });
  assert.equal(w.samples, w.series.length * 360);
  const rw = fromRemoteWrite(w, 100); // slices that do not divide the scrapes evenly
  assert.equal(rw.size, w.series.length);
  const one = await viaOpenMetrics(w, 0);
  assert.equal(one.files.length, 1);
  assert.deepEqual(one.samples, rw);
  // Windows of 2h aligned to the epoch: the 3 h span touches two or three of them.
  const windows = await viaOpenMetrics(w, 2 * HOUR);
  assert.ok(windows.files.length >= 2 && windows.files.every((f) => f.startMs % (2 * HOUR) === 0));
  assert.deepEqual(windows.samples, rw);
});

test('node workload: values behave like node exporter data', () => {
  const w = new NodeWorkload({ hosts: 3, spanMs: 2 * HOUR, intervalMs: 15_000, endMs: END });
  const again = new NodeWorkload({ hosts: 3, spanMs: 2 * HOUR, intervalMs: 15_000, endMs: END });
  for (let i = 0; i < w.series.length; i++) {
    const s = w.series[i]!;
    const h = [...w.history(i)];
    assert.deepEqual([...again.history(i)], h, 'deterministic');
    for (let k = 0; k < h.length; k++) {
      const [t, v] = h[k]!;
      assert.ok(Number.isFinite(v) && v >= 0, `${labelsKey(s.labels)}: ${v}`);
      assert.equal(t % 1000, 0, 'whole seconds');
      assert.notEqual(t % w.intervalMs, 0, 'never on the interval grid');
      if (k > 0 && s.type === 'counter') assert.ok(v >= h[k - 1]![1], `${labelsKey(s.labels)} went down at ${k}`);
    }
  }
  const byName = (n: string) => w.series.findIndex((s) => s.name === n);
  const cpu = [...w.history(byName('node_cpu_seconds_total'))].map(([, v]) => v);
  assert.ok(cpu.every((v) => Math.round(v * 100) / 100 === v), 'CPU seconds in 1/100 s');
  assert.ok(new Set(cpu).size === cpu.length, 'CPU seconds move every scrape');
  const total = [...w.history(byName('node_memory_MemTotal_bytes'))].map(([, v]) => v);
  assert.equal(new Set(total).size, 1, 'MemTotal is constant');
  const avail = [...w.history(byName('node_memory_MemAvailable_bytes'))].map(([, v]) => v);
  assert.ok(avail.every((v) => v % 1024 === 0) && new Set(avail).size > avail.length / 2, 'MemAvailable wanders in KiB');
});

test('node workload: samplesBefore and firstSampleAtOrAfter agree with counting (property)', () => {
  const w = new NodeWorkload({ hosts: 3, spanMs: 3 * HOUR, intervalMs: 60_000, endMs: END });
  const all: number[] = [];
  for (const s of w.series) for (let k = 0; k < w.scrapes; k++) all.push(w.timestamp(s.host, k));
  all.sort((a, b) => a - b);
  assert.equal(all[0], w.firstMs);
  assert.equal(all[all.length - 1], w.lastMs);
  fc.assert(
    fc.property(fc.integer({ min: w.firstMs - 2 * HOUR, max: w.lastMs + 2 * HOUR }), (t) => {
      assert.equal(w.samplesBefore(t), all.filter((x) => x < t).length);
      assert.equal(w.firstSampleAtOrAfter(t), all.find((x) => x >= t) ?? Infinity);
    }),
    { numRuns: 300 },
  );
});

test('OpenMetrics prefix: any label values read back unchanged (property)', () => {
  // The characters the format escapes or that delimit it, and multi-byte UTF-8 (2, 3 and 4 bytes).
  const chars = ['a', 'Z', '0', '_', ' ', ',', '=', '{', '}', '#', '\\', '"', '\n', '\t', 'é', '日', '😀'];
  const value = fc.string({ unit: fc.constantFrom(...chars), minLength: 1, maxLength: 20 });
  fc.assert(
    fc.property(fc.dictionary(fc.constantFrom('a', 'b', 'device', 'mountpoint', 'le_x'), value), fc.double({ noNaN: true }), (obj, v) => {
      const labels = labelsFromObject({ __name__: 'm', ...obj });
      const text = `# TYPE m gauge\n${openMetricsPrefix(labels)}${String(v)} 1700000000\n# EOF\n`;
      const p = new OpenMetricsParser(text);
      assert.equal(p.next(), Entry.Type);
      assert.equal(p.next(), Entry.Series);
      assert.deepEqual(labelsToObject(p.labels()), labelsToObject(labels));
      assert.ok(Object.is(p.value(), v) || (v === 0 && p.value() === 0));
      assert.equal(p.timestamp(), 1_700_000_000_000);
    }),
    { numRuns: 300 },
  );
});

test('node workload: promtool backfills the OpenMetrics files to exactly the generated samples, and findBlocks counts them', async (t) => {
  const promtool = requirePeer(t, 'promtool');
  if (promtool === null) return;
  const w = new NodeWorkload({ hosts: 1, spanMs: 3 * HOUR, intervalMs: 30_000, endMs: END });
  const dir = mkdtempSync(join(tmpdir(), 'argus-node-workload-'));
  try {
    // One file per 2h block, as the benchmark does.
    let blocks = 0;
    await writeOpenMetricsFiles(w, { dir, windowMs: 2 * HOUR }, async (f) => {
      const created = await runTool(promtool, ['tsdb', 'create-blocks-from', 'openmetrics', '--quiet', f.path, join(dir, 'data')], { timeoutMs: 60_000 });
      assert.equal(created.code, 0, created.output);
      blocks++;
    });
    assert.ok(blocks >= 2);
    // The benchmark's view of those blocks: every sample, and file sizes as `find -printf %s` sums them.
    const found = await findBlocks(join(dir, 'data'));
    assert.equal(found.blocks.length, blocks);
    assert.equal(found.incomplete, 0);
    assert.equal(blockTotals(found.blocks).samples, w.samples);
    assert.deepEqual(overlaps(found.blocks), []);
    for (const b of found.blocks) {
      const sizes = await runTool('find', [b.dir, '-type', 'f', '-printf', '%s\n'], { timeoutMs: 10_000 });
      const bytes = sizes.output.trim().split('\n').reduce((n, x) => n + Number(x), 0);
      assert.equal(b.size.bytes, bytes);
      assert.ok(b.chunkBytes > 0 && b.indexBytes > 0 && b.chunkBytes + b.indexBytes < b.size.bytes);
      assert.ok(!b.deletionMarked && b.resolution === 0 && b.level === 1);
    }
    // promtool 2.42's dump opens the dir as a DB and wants a wal/ in it, even an empty one.
    mkdirSync(join(dir, 'data', 'wal'));
    // `{labels} value timestamp` per sample, into a file (runTool keeps only a bounded tail of the output).
    const out = join(dir, 'dump.txt');
    const sh = await runTool('/bin/sh', ['-c', `"$0" tsdb dump "$1" > "$2"`, promtool, join(dir, 'data'), out], { timeoutMs: 60_000 });
    assert.equal(sh.code, 0, sh.output);
    const got: Samples = new Map();
    for (const line of readFileSync(out, 'utf8').split('\n')) {
      if (line === '') continue;
      const m = /^(\{.*\}) (\S+) (\d+)$/.exec(line);
      assert.ok(m, `unexpected dump line ${line}`);
      const obj: Record<string, string> = {};
      for (const [, k, v] of m[1]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) obj[k!] = v!;
      add(got, labelsKey(labelsFromObject(obj)), Number(m[3]), Number(m[2]));
    }
    const want: Samples = new Map();
    w.series.forEach((s, i) => {
      for (const [ts, v] of w.history(i)) add(want, labelsKey(s.labels), ts, v);
    });
    assert.equal(got.size, want.size);
    for (const [k, l] of want) assert.deepEqual(got.get(k), l, k);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
