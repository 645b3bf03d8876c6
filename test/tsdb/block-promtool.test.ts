/**
 * Blocks against the real Prometheus tools (Debian prometheus 2.42's promtool):
 *  (b) `promtool tsdb analyze --extended` and `promtool tsdb dump` read blocks we wrote, and the dump holds
 *      exactly our samples;
 *  (c) blocks made by `promtool tsdb create-blocks-from openmetrics` read back through our reader, sample
 *      for sample and bit for bit;
 *  (d) byte level: with promtool's chunk boundaries, our XOR encoder and block writer reproduce promtool's
 *      block files byte for byte; with our own chunk cutting the index structure is the same and the
 *      bytes differ only where the chunk metas do (reported).
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { compareLabels, labelsFromObject, type Labels } from '../../src/model/labels.js';
import { STALE_NAN } from '../../src/model/value.js';
import { ValueType } from '../../src/storage/interface.js';
import { XorChunk, XorIterator } from '../../src/tsdb/chunkenc/index.js';
import { compareLabelsUtf8, openBlock, writeBlock, type Block, type BlockSeriesInput } from '../../src/tsdb/block/index.js';
import { requirePeer } from '../support/peers.js';
import { toChunks } from '../support/blocks.js';
import { bits, fromBits, rng } from '../support/random.js';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'argus-block-promtool-'));
after(() => rmSync(root, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------------------
// data

const GO_NAN = fromBits(0x7ff80000, 1);

interface Sampled {
  labels: Labels;
  ts: number[];
  /** Float64Array: plain arrays would quiet the stale NaN. */
  vs: Float64Array;
}

// Printable non-ASCII (kept as is by Go's strconv.Quote), escapes, and characters whose UTF-8 and UTF-16
// orders differ (U+FF21 vs U+1F600), so that the symbol order matters to Prometheus's binary searches.
const ODD_VALUES = ['é', 'Ａ', '😀', 'quote"back\\slash', 'new\nline', '日本語', 'tab\there', ''];

function generate(seed: number, nSeries: number, nSamples: number, t0: number, opts: { stale: boolean }): Sampled[] {
  const r = rng(seed);
  const out: Sampled[] = [];
  const seen = new Set<string>();
  while (out.length < nSeries) {
    const obj: Record<string, string> = {
      __name__: `argus_test_metric_${Math.floor(r() * 8)}`,
      instance: `10.0.${Math.floor(r() * 4)}.${Math.floor(r() * 30)}:9100`,
      job: `job_${Math.floor(r() * 3)}`,
    };
    if (r() < 0.4) obj.odd = ODD_VALUES[Math.floor(r() * ODD_VALUES.length)]!;
    const labels = labelsFromObject(obj);
    const key = labels.join('\xff');
    if (seen.has(key)) continue;
    seen.add(key);
    const n = Math.max(1, Math.floor(nSamples * (0.2 + r())));
    const ts: number[] = [];
    const vs = new Float64Array(n);
    let t = t0 + Math.floor(r() * 10_000);
    let acc = 0;
    for (let i = 0; i < n; i++) {
      ts.push(t);
      t += r() < 0.85 ? 15_000 : 1000 + Math.floor(r() * 120_000);
      const k = r();
      vs[i] = k < 0.5 ? (acc += Math.floor(r() * 50)) : k < 0.8 ? Math.round((r() * 2000 - 1000) * 1e3) / 1e3 : r() * 1e300;
      const special = r();
      if (special < 0.01) vs[i] = GO_NAN;
      else if (special < 0.02) vs[i] = Infinity;
      else if (special < 0.03) vs[i] = -Infinity;
      else if (special < 0.035) vs[i] = -0;
      else if (special < 0.04) vs[i] = 5e-324;
    }
    if (opts.stale && n > 3) vs[n - 1] = STALE_NAN;
    out.push({ labels, ts, vs });
  }
  return out;
}

function key(ls: Labels): string {
  return ls.join('\xff');
}

// ---------------------------------------------------------------------------------------------------------
// promtool output parsing

/** Unquotes a Go `strconv.Quote` string starting at `s[i]` (the opening quote); returns [value, next index]. */
function goUnquote(s: string, i: number): [string, number] {
  assert.equal(s[i], '"');
  let out = '';
  i++;
  for (;;) {
    const c = s[i++];
    if (c === undefined) throw new Error(`unterminated string in ${s}`);
    if (c === '"') return [out, i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = s[i++]!;
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };
    if (e in simple) out += simple[e];
    else if (e === 'x') {
      out += String.fromCharCode(parseInt(s.slice(i, i + 2), 16));
      i += 2;
    } else if (e === 'u') {
      out += String.fromCodePoint(parseInt(s.slice(i, i + 4), 16));
      i += 4;
    } else if (e === 'U') {
      out += String.fromCodePoint(parseInt(s.slice(i, i + 8), 16));
      i += 8;
    } else throw new Error(`unknown escape \\${e} in ${s}`);
  }
}

/** Parses a dump line `{a="1", b="2"} value timestamp` (Go's labels.String, %g, %d). */
function parseDumpLine(line: string): { labels: Labels; t: number; v: number } {
  assert.equal(line[0], '{', line);
  const obj: Record<string, string> = {};
  let i = 1;
  while (line[i] !== '}') {
    const eqAt = line.indexOf('=', i);
    const name = line.slice(i, eqAt);
    const [value, next] = goUnquote(line, eqAt + 1);
    obj[name] = value;
    i = next;
    if (line.startsWith(', ', i)) i += 2;
  }
  const [vs, ts] = line.slice(i + 2).split(' ');
  const v = vs === '+Inf' ? Infinity : vs === '-Inf' ? -Infinity : vs === 'NaN' ? NaN : Number(vs);
  assert.ok(!Number.isNaN(v) || vs === 'NaN', `value ${vs}`);
  return { labels: labelsFromObject(obj), t: Number(ts), v };
}

async function promtool(bin: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(bin, args, { maxBuffer: 512 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`promtool ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

/** Samples per series from every block, in time order, through our querier. */
async function readBlocks(blocks: Block[]): Promise<Map<string, { labels: Labels; ts: number[]; vs: number[]; bits: string[] }>> {
  const out = new Map<string, { labels: Labels; ts: number[]; vs: number[]; bits: string[] }>();
  for (const b of [...blocks].sort((x, y) => x.meta.minTime - y.meta.minTime)) {
    for await (const s of b.querier().select({ start: -Infinity, end: Infinity }, [])) {
      let e = out.get(key(s.labels));
      if (e === undefined) out.set(key(s.labels), (e = { labels: s.labels, ts: [], vs: [], bits: [] }));
      const it = s.iterator();
      while (it.next() !== ValueType.None) {
        e.ts.push(it.atT());
        const v = it.atF();
        e.vs.push(v);
        e.bits.push(bits(v));
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// (b) promtool reads our blocks

describe('promtool reads blocks written by Argus', () => {
  test('tsdb analyze --extended and tsdb dump: exactly our samples', async (t) => {
    const bin = requirePeer(t, 'promtool');
    if (bin === null) return;
    const data = generate(101, 250, 400, 1_700_000_000_000, { stale: true });
    const dataDir = join(root, 'ours');
    mkdirSync(join(dataDir, 'wal'), { recursive: true }); // dump opens the directory as a read-only DB
    let minT = Infinity;
    let maxT = -Infinity;
    let total = 0;
    for (const s of data) {
      minT = Math.min(minT, s.ts[0]!);
      maxT = Math.max(maxT, s.ts[s.ts.length - 1]!);
      total += s.ts.length;
    }
    const meta = await writeBlock(dataDir, data.map((s) => toChunks(s)), { minT, maxT: maxT + 1 });

    const analyze = await promtool(bin, ['tsdb', 'analyze', '--extended', dataDir, meta.ulid]);
    assert.match(analyze, new RegExp(`^Block ID: ${meta.ulid}$`, 'm'));
    assert.match(analyze, new RegExp(`^Series: ${data.length}$`, 'm'));
    assert.match(analyze, /^Label names: [45]$/m);
    assert.match(analyze, /^Compaction analysis:$/m, 'the extended analysis read every chunk');
    const summary = analyze.split('\n').slice(0, 6).join('; ');
    t.diagnostic(`promtool tsdb analyze: ${summary}`);
    const full = analyze.split('\n');
    const fullness = full.slice(full.indexOf('Compaction analysis:') + 2).filter((l) => /%:/.test(l));
    t.diagnostic(`chunk fullness: ${fullness.map((l) => l.trim()).join(' ')}`);

    const dump = await promtool(bin, ['tsdb', 'dump', dataDir]);
    const lines = dump.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, total, 'one line per sample');
    const got = new Map<string, { labels: Labels; ts: number[]; vs: number[] }>();
    const order: Labels[] = [];
    for (const line of lines) {
      const { labels, t: ts, v } = parseDumpLine(line);
      let e = got.get(key(labels));
      if (e === undefined) {
        got.set(key(labels), (e = { labels, ts: [], vs: [] }));
        order.push(labels);
      }
      e.ts.push(ts);
      e.vs.push(v);
    }
    assert.equal(got.size, data.length, 'series count');
    for (const s of data) {
      const e = got.get(key(s.labels));
      assert.ok(e, `series ${s.labels.join(',')} is in the dump`);
      assert.deepEqual(e.ts, s.ts, `timestamps of ${s.labels.join(',')}`);
      for (let i = 0; i < s.ts.length; i++) {
        const want = s.vs[i]!;
        const have = e.vs[i]!;
        // The dump prints %g: the shortest text that parses back to the same float; NaN payloads are not printed.
        assert.ok(Number.isNaN(want) ? Number.isNaN(have) : Object.is(want, have), `value of ${s.labels.join(',')} at ${s.ts[i]}: ${have} != ${want}`);
      }
    }
    // Prometheus walks the postings in index order: our UTF-8 series order.
    const sorted = [...data.map((s) => s.labels)].sort(compareLabelsUtf8);
    assert.deepEqual(order, sorted, 'dump order is our index order');
  });
});

// ---------------------------------------------------------------------------------------------------------
// (c) + (d) we read promtool's blocks; byte-level comparison

function formatOpenMetrics(data: Sampled[]): { text: string; expected: Map<string, { ts: number[]; vs: Float64Array }> } {
  const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  const fmt = (v: number) => (Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : Object.is(v, -0) ? '-0' : String(v));
  const byName = new Map<string, Sampled[]>();
  for (const s of data) {
    const name = s.labels[s.labels.indexOf('__name__') + 1]!;
    if (!byName.has(name)) byName.set(name, []);
    byName.get(name)!.push(s);
  }
  const lines: string[] = [];
  const expected = new Map<string, { ts: number[]; vs: Float64Array }>();
  for (const [name, list] of [...byName].sort()) {
    lines.push(`# TYPE ${name} gauge`);
    for (const s of list) {
      const pairs: string[] = [];
      for (let i = 0; i < s.labels.length; i += 2) {
        if (s.labels[i] !== '__name__') pairs.push(`${s.labels[i]}="${esc(s.labels[i + 1]!)}"`);
      }
      const ts: number[] = [];
      const vs = new Float64Array(s.ts.length);
      for (let i = 0; i < s.ts.length; i++) {
        const secs = String(s.ts[i]! / 1000);
        lines.push(`${name}{${pairs.join(',')}} ${fmt(s.vs[i]!)} ${secs}`);
        // The parser reads seconds as a float and truncates seconds*1000 to an integer, as Go's int64() does.
        ts.push(Math.trunc(Number(secs) * 1000));
        vs[i] = Number.isNaN(s.vs[i]!) ? GO_NAN : s.vs[i]!;
      }
      expected.set(key(s.labels), { ts, vs });
    }
  }
  lines.push('# EOF', '');
  return { text: lines.join('\n'), expected };
}

describe('Argus reads blocks written by promtool', () => {
  const T0 = 1_700_003_600_000; // not aligned to the 2h block range; the data spans several blocks
  const data = generate(202, 120, 900, T0, { stale: false });
  const refDir = join(root, 'promtool-blocks');
  let blocks: Block[] = [];
  let ran = false;

  test('create-blocks-from openmetrics, then every sample through our querier', async (t) => {
    const bin = requirePeer(t, 'promtool');
    if (bin === null) return;
    const { text, expected } = formatOpenMetrics(data);
    const file = join(root, 'input.om.txt');
    writeFileSync(file, text);
    await promtool(bin, ['tsdb', 'create-blocks-from', 'openmetrics', file, refDir]);
    const ulids = readdirSync(refDir).filter((n) => /^[0-9A-Z]{26}$/.test(n));
    assert.ok(ulids.length >= 3, `promtool wrote ${ulids.length} blocks`);
    blocks = await Promise.all(ulids.map((u) => openBlock(join(refDir, u))));
    ran = true;

    const got = await readBlocks(blocks);
    assert.equal(got.size, expected.size, 'series count');
    let samples = 0;
    for (const [k, want] of expected) {
      const e = got.get(k);
      assert.ok(e, `series ${k}`);
      assert.deepEqual(e.ts, want.ts, `timestamps of ${k}`);
      assert.deepEqual(e.bits, [...want.vs].map(bits), `value bits of ${k}`);
      samples += want.ts.length;
    }
    const stats = blocks.reduce((n, b) => n + (b.meta.stats.numSamples ?? 0), 0);
    assert.equal(stats, samples, 'meta.json numSamples');

    // Series come back sorted, matchers work on a foreign index, and ranges clip at block boundaries.
    const b = [...blocks].sort((x, y) => x.meta.minTime - y.meta.minTime)[1]!;
    const seen: Labels[] = [];
    for await (const s of b.querier().select({ start: b.meta.minTime + 1000, end: b.meta.minTime + 60_000 }, [])) {
      seen.push(s.labels);
      const it = s.iterator();
      while (it.next() !== ValueType.None) assert.ok(it.atT() >= b.meta.minTime + 1000 && it.atT() <= b.meta.minTime + 60_000);
    }
    for (let i = 1; i < seen.length; i++) assert.ok(compareLabels(seen[i - 1]!, seen[i]!) < 0);
    assert.ok(seen.length > 0);
    const names = await b.querier().labelValues('__name__', { start: -Infinity, end: Infinity }, []);
    assert.ok(names.length > 0 && names.every((n) => n.startsWith('argus_test_metric_')));
  });

  test('byte level: with promtool\'s chunks, our writer reproduces its blocks exactly; our XOR encoder matches up to a 2.x quirk', async (t) => {
    if (!ran) {
      if (requirePeer(t, 'promtool') === null) return;
      assert.fail('the promtool blocks were not created');
    }
    const out = join(root, 'rewritten');
    let chunks = 0;
    let identicalXor = 0;
    let trailingByte = 0;
    for (const b of blocks) {
      const series: BlockSeriesInput[] = [];
      for (const id of b.index.allPostings()) {
        const e = b.index.series(id);
        const copied = e.chunks.map((c) => {
          const theirs = b.chunks.chunk(c.ref).bytes;
          const it = new XorIterator(theirs);
          const mine = new XorChunk();
          const app = mine.appender();
          while (it.next() !== ValueType.None) app.append(it.atT(), it.atF());
          const ours = Buffer.from(mine.bytes());
          chunks++;
          if (ours.equals(Buffer.from(theirs))) identicalXor++;
          else {
            // Prometheus before 3.0 (bstream.writeByte, fixed by prometheus#14854) leaves one empty byte after
            // a chunk whose last write was a whole byte at a byte boundary, e.g. every one-sample chunk. Our
            // encoder writes what Prometheus 3 writes; the samples are the same either way.
            assert.deepEqual(Buffer.from(theirs), Buffer.concat([ours, Buffer.of(0)]), `XOR bytes of a chunk of ${e.labels.join(',')}`);
            trailingByte++;
          }
          return { minT: c.minT, maxT: c.maxT, bytes: theirs.slice() };
        });
        series.push({ labels: e.labels, chunks: copied });
      }
      const meta = await writeBlock(out, series, { minT: b.meta.minTime, maxT: b.meta.maxTime, ulid: b.meta.ulid });
      for (const f of ['index', 'tombstones', 'meta.json', ...readdirSync(join(b.dir, 'chunks')).map((c) => `chunks/${c}`)]) {
        const theirs = readFileSync(join(b.dir, f));
        const ours = readFileSync(join(out, meta.ulid, f));
        assert.ok(theirs.equals(ours), `${meta.ulid}/${f}: ${ours.length} bytes vs promtool's ${theirs.length}, first difference at ${firstDiff(theirs, ours)}`);
      }
    }
    t.diagnostic(
      `${blocks.length} blocks: index, chunks/000001, tombstones and meta.json byte-identical to promtool's; ` +
        `XOR re-encoding: ${identicalXor}/${chunks} chunks identical, ${trailingByte} differ only by Prometheus 2.x's empty trailing byte`,
    );
  });

  test('byte level: with our own chunk cutting, the index has the same structure (differences reported)', async (t) => {
    if (!ran) {
      if (requirePeer(t, 'promtool') === null) return;
      assert.fail('the promtool blocks were not created');
    }
    const out = join(root, 'own-cutting');
    const { expected } = formatOpenMetrics(data);
    const byKey = new Map(data.map((s) => [key(s.labels), s]));
    const report: string[] = [];
    for (const b of [...blocks].sort((x, y) => x.meta.minTime - y.meta.minTime)) {
      const inRange: Sampled[] = [];
      for (const [k, e] of expected) {
        const keep = e.ts.map((ts) => ts >= b.meta.minTime && ts < b.meta.maxTime);
        const ts = e.ts.filter((_, i) => keep[i]);
        if (ts.length === 0) continue;
        inRange.push({ labels: byKey.get(k)!.labels, ts, vs: e.vs.filter((_, i) => keep[i]) });
      }
      const meta = await writeBlock(out, inRange.map((s) => toChunks(s)), { minT: b.meta.minTime, maxT: b.meta.maxTime });
      const ours = await openBlock(join(out, meta.ulid));
      assert.deepEqual(ours.index.symbols, b.index.symbols, 'symbol tables');
      assert.deepEqual(ours.index.labelNames(), b.index.labelNames(), 'label names (postings offset table)');
      const seriesOf = (blk: Block) => [...blk.index.allPostings()].map((id) => blk.index.series(id));
      const mine = seriesOf(ours);
      const theirs = seriesOf(b);
      assert.deepEqual(mine.map((s) => s.labels), theirs.map((s) => s.labels), 'series in the same order');
      for (const name of b.index.labelNames()) {
        assert.deepEqual(ours.index.labelValues(name), b.index.labelValues(name), `values of ${name}`);
        for (const v of b.index.labelValues(name)) {
          const a = [...ours.index.postings(name, v)].map((id) => key(ours.index.series(id).labels));
          const c = [...b.index.postings(name, v)].map((id) => key(b.index.series(id).labels));
          assert.deepEqual(a, c, `postings ${name}=${v}`);
        }
      }
      const sameChunks = mine.filter((s, i) => s.chunks.map((c) => `${c.minT}-${c.maxT}`).join() === theirs[i]!.chunks.map((c) => `${c.minT}-${c.maxT}`).join()).length;
      const identical = readFileSync(join(out, meta.ulid, 'index')).equals(readFileSync(join(b.dir, 'index')));
      report.push(
        `block ${b.meta.minTime}..${b.meta.maxTime}: ${mine.length} series, chunks ours ${meta.stats.numChunks} / promtool ${b.meta.stats.numChunks}, ` +
          `${sameChunks} series with identical chunk ranges, index bytes ${identical ? 'identical' : 'differ'}`,
      );
    }
    t.diagnostic(report.join('\n'));
  });
});

function firstDiff(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}
