/**
 * XOR chunk speed: ns per sample to append (into fresh 120-sample chunks, as the head does) and to
 * iterate (reusing one iterator, reading t and v). Run: node --import tsx bench/chunkenc.ts
 */
import { XorChunk, XorIterator } from '../src/tsdb/chunkenc/index.js';

const SAMPLES_PER_CHUNK = 120;
const CHUNKS = 10_000;
const ROUNDS = 15;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface Workload {
  name: string;
  ts: Float64Array;
  vs: Float64Array;
}

/** 15 s scrapes with a few ms of jitter; values from `value(chunk, i, prev)`. */
function workload(name: string, jitterMs: number, value: (r: () => number, i: number, prev: number) => number): Workload {
  const r = rng(42);
  const n = CHUNKS * SAMPLES_PER_CHUNK;
  const ts = new Float64Array(n);
  const vs = new Float64Array(n);
  let t = 1_700_000_000_000;
  let v = 0;
  for (let i = 0; i < n; i++) {
    ts[i] = t + (jitterMs > 0 ? Math.floor(r() * (2 * jitterMs + 1)) - jitterMs : 0);
    t += 15_000;
    v = value(r, i % SAMPLES_PER_CHUNK, v);
    vs[i] = v;
  }
  return { name, ts, vs };
}

const workloads: Workload[] = [
  workload('counter (int increments)', 2, (r, _i, p) => p + Math.floor(r() * 200)),
  workload('counter (float rate)', 2, (r, _i, p) => p + r() * 37.5),
  workload('gauge (2 decimals)', 2, (r) => Math.round(r() * 1e5) / 100),
  workload('gauge (bytes, mostly flat)', 0, (r, _i, p) => (p === 0 || r() < 0.3 ? 4096 * Math.floor(1e5 + r() * 1e4) : p)),
  workload('constant', 0, () => 1),
];

interface Timing {
  min: number;
  median: number;
}

/** ns per sample: the minimum shows the code's speed on a quiet machine, the median how steady it is. */
function timing(times: number[]): Timing {
  const s = [...times].sort((a, b) => a - b);
  const per = CHUNKS * SAMPLES_PER_CHUNK;
  return { min: s[0]! / per, median: s[s.length >> 1]! / per };
}

let sink = 0;

function benchAppend(w: Workload): { ns: Timing; chunks: XorChunk[]; bytes: number } {
  const times: number[] = [];
  let chunks: XorChunk[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    chunks = new Array<XorChunk>(CHUNKS);
    const t0 = process.hrtime.bigint();
    let k = 0;
    for (let c = 0; c < CHUNKS; c++) {
      const chunk = new XorChunk();
      const app = chunk.appender();
      for (let i = 0; i < SAMPLES_PER_CHUNK; i++, k++) app.append(w.ts[k]!, w.vs[k]!);
      chunks[c] = chunk;
    }
    times.push(Number(process.hrtime.bigint() - t0));
  }
  let bytes = 0;
  for (const c of chunks) bytes += c.bytes().length;
  return { ns: timing(times), chunks, bytes };
}

function benchIterate(chunks: XorChunk[]): Timing {
  const bytes = chunks.map((c) => c.bytes());
  const it = new XorIterator();
  const times: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let sum = 0;
    let n = 0;
    const t0 = process.hrtime.bigint();
    for (let c = 0; c < bytes.length; c++) {
      it.reset(bytes[c]!);
      while (it.next() !== 0) {
        sum += it.atT() + it.atF();
        n++;
      }
    }
    times.push(Number(process.hrtime.bigint() - t0));
    if (n !== CHUNKS * SAMPLES_PER_CHUNK) throw new Error(`iterated ${n} samples`);
    sink += sum;
  }
  return timing(times);
}

console.log(`XOR chunks: ${CHUNKS} chunks x ${SAMPLES_PER_CHUNK} samples per workload, ${ROUNDS} rounds, node ${process.version}`);
console.log('ns/sample, min (median)        append          iterate          bytes/sample');
const fmt = (t: Timing): string => `${t.min.toFixed(1)} (${t.median.toFixed(1)})`.padStart(16);
const sum = { a: { min: 0, median: 0 }, i: { min: 0, median: 0 } };
for (const w of workloads) {
  const a = benchAppend(w);
  const i = benchIterate(a.chunks);
  for (const k of ['min', 'median'] as const) {
    sum.a[k] += a.ns[k] / workloads.length;
    sum.i[k] += i[k] / workloads.length;
  }
  console.log(`${w.name.padEnd(28)}${fmt(a.ns)} ${fmt(i)}${(a.bytes / (CHUNKS * SAMPLES_PER_CHUNK)).toFixed(2).padStart(14)}`);
}
console.log(`${'mean'.padEnd(28)}${fmt(sum.a)} ${fmt(sum.i)}`);
if (sink === 42) console.log('');
