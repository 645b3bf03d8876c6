/** Shared by the store-gateway tests: block data, uploading block directories, reading a SeriesSet. */
import { labelsFromObject, type Labels } from '../../src/model/labels.js';
import { ValueType, type SeriesSet } from '../../src/storage/interface.js';
import { rng } from '../support/random.js';

export { toChunks, uploadBlockDir } from '../support/blocks.js';

export interface SeriesData {
  labels: Labels;
  ts: number[];
  /** Float64Array: plain arrays would quiet NaN payloads. */
  vs: Float64Array;
}

/**
 * Series over [t0, t1) with varied labels: some lack `env`, some have characters whose UTF-8 and UTF-16
 * orders differ when `odd` is set. Samples every `step` ms with a little jitter.
 */
export function makeSeries(seed: number, n: number, t0: number, t1: number, step: number, opts: { odd?: boolean } = {}): SeriesData[] {
  const r = rng(seed);
  const out: SeriesData[] = [];
  for (let i = 0; i < n; i++) {
    const obj: Record<string, string> = {
      __name__: `store_metric_${i % 5}`,
      job: ['api', 'db', 'web'][i % 3]!,
      instance: `host-${Math.floor(i / 3)}:9100`,
    };
    if (i % 4 !== 0) obj.env = ['prod', 'dev', 'staging'][i % 3]!;
    if (opts.odd && i % 7 === 0) obj.odd = ['Ａ', '😀', 'é', 'z'][i % 4]!;
    const ts: number[] = [];
    const vals: number[] = [];
    let acc = 0;
    for (let t = t0 + Math.floor(r() * step); t < t1; t += step) {
      ts.push(t);
      acc += Math.floor(r() * 100);
      vals.push(i % 2 === 0 ? acc : Math.round(r() * 1e6) / 1e3);
    }
    if (ts.length === 0) continue;
    out.push({ labels: labelsFromObject(obj), ts, vs: Float64Array.from(vals) });
  }
  return out;
}

export interface ReadSeries {
  key: string;
  ts: Float64Array;
  /** The values' bits (two uint32 per sample), so that NaN payloads compare exactly. */
  bits: Uint32Array;
}

/** Every series of a set with its samples, in the order the set yields them. */
export async function readSet(set: SeriesSet): Promise<ReadSeries[]> {
  const out: ReadSeries[] = [];
  for await (const s of set) {
    const it = s.iterator();
    let ts = new Float64Array(256);
    let vs = new Float64Array(256);
    let n = 0;
    while (it.next() !== ValueType.None) {
      if (n === ts.length) {
        const t2 = new Float64Array(n * 2);
        const v2 = new Float64Array(n * 2);
        t2.set(ts);
        v2.set(vs);
        ts = t2;
        vs = v2;
      }
      ts[n] = it.atT();
      vs[n++] = it.atF();
    }
    out.push({ key: labelsKey(s.labels), ts: ts.slice(0, n), bits: new Uint32Array(vs.buffer.slice(0, n * 8)) });
  }
  return out;
}

export function labelsKey(ls: Labels): string {
  const parts: string[] = [];
  for (let i = 0; i < ls.length; i += 2) parts.push(`${ls[i]}=${JSON.stringify(ls[i + 1])}`);
  return `{${parts.join(',')}}`;
}
