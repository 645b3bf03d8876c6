/**
 * Finds the series of a received label set without making strings: the label bytes of the request are
 * hashed and compared byte for byte against the entries of earlier requests. Only a miss decodes the
 * labels, validates them and works out the HA cluster/replica and the labels to store.
 */
import type { DecodedWrite } from '../codec/index.js';
import type { Limits } from '../config/schema.js';
import type { Labels } from '../model/labels.js';
import { METRIC_NAME, labelsFromPairs, labelsToString } from '../model/labels.js';

/** What the receiver knows about one received label set. */
export class SeriesEntry {
  /** Head series ref, filled in at first append (0 = not yet created). */
  ref = 0;
  private described: string | null;

  constructor(
    /** The received label bytes, to confirm hash hits. */
    readonly key: Uint8Array,
    /** Why the series can never be accepted (permanent), or null. */
    readonly reject: string | null,
    /** What is stored: received labels without empty values and without the replica label of an HA pair. */
    readonly labels: Labels,
    /** HA cluster and replica ('' when the series does not carry both labels). */
    readonly cluster: string,
    readonly replica: string,
    private readonly replicaLabel: string,
    readonly isCounter: boolean,
    described: string | null = null,
  ) {
    this.described = described;
  }

  /** The received series as text, for error messages (made on first use: most series never need it). */
  get text(): string {
    if (this.described === null) {
      const ls = this.replica === '' ? this.labels : labelsFromPairs([...pairsOf(this.labels), [this.replicaLabel, this.replica]]);
      this.described = labelsToString(ls);
    }
    return this.described;
  }
}

function pairsOf(ls: Labels): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < ls.length; i += 2) out.push([ls[i]!, ls[i + 1]!]);
  return out;
}

/**
 * Label strings are shared between series (every series repeats `job`, `instance`, ...): one copy per
 * distinct string keeps the head small. Bounded: the pool restarts when it grows past `MAX_INTERNED`
 * (strings already in series stay shared; only new ones start a fresh pool).
 */
const MAX_INTERNED = 1_000_000;
const interned = new Map<string, string>();
function intern(s: string): string {
  const have = interned.get(s);
  if (have !== undefined) return have;
  if (interned.size >= MAX_INTERNED) interned.clear();
  interned.set(s, s);
  return s;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function hashPairs(buf: Uint8Array, ranges: Uint32Array, from: number, to: number): number {
  // FNV-1a over name 0xff value 0xfe; collisions are resolved by comparing bytes.
  let h = 0x811c9dc5;
  for (let j = from; j < to; j++) {
    const o = j * 4;
    const no = ranges[o]!;
    const ne = no + ranges[o + 1]!;
    for (let k = no; k < ne; k++) h = Math.imul(h ^ buf[k]!, 0x01000193);
    h = Math.imul(h ^ 0xff, 0x01000193);
    const vo = ranges[o + 2]!;
    const ve = vo + ranges[o + 3]!;
    for (let k = vo; k < ve; k++) h = Math.imul(h ^ buf[k]!, 0x01000193);
    h = Math.imul(h ^ 0xfe, 0x01000193);
  }
  return h & 0x3fffffff;
}

function sameKey(key: Uint8Array, buf: Uint8Array, ranges: Uint32Array, from: number, to: number): boolean {
  let p = 0;
  for (let j = from; j < to; j++) {
    const o = j * 4;
    for (let f = 0; f < 2; f++) {
      const off = ranges[o + 2 * f]!;
      const len = ranges[o + 2 * f + 1]!;
      if (p + len + 1 > key.length) return false;
      for (let k = 0; k < len; k++) if (key[p + k] !== buf[off + k]) return false;
      p += len;
      if (key[p++] !== (f === 0 ? 0xff : 0xfe)) return false;
    }
  }
  return p === key.length;
}

function makeKey(buf: Uint8Array, ranges: Uint32Array, from: number, to: number): Uint8Array {
  let size = 0;
  for (let j = from; j < to; j++) size += ranges[j * 4 + 1]! + ranges[j * 4 + 3]! + 2;
  const key = new Uint8Array(size);
  let p = 0;
  for (let j = from; j < to; j++) {
    const o = j * 4;
    key.set(buf.subarray(ranges[o]!, ranges[o]! + ranges[o + 1]!), p);
    p += ranges[o + 1]!;
    key[p++] = 0xff;
    key.set(buf.subarray(ranges[o + 2]!, ranges[o + 2]! + ranges[o + 3]!), p);
    p += ranges[o + 3]!;
    key[p++] = 0xfe;
  }
  return key;
}

/** Compares two byte ranges of `buf` as Go compares strings (bytewise). */
function compareBytes(buf: Uint8Array, ao: number, al: number, bo: number, bl: number): number {
  const n = Math.min(al, bl);
  for (let i = 0; i < n; i++) {
    const d = buf[ao + i]! - buf[bo + i]!;
    if (d !== 0) return d;
  }
  return al - bl;
}

const COUNTER_SUFFIX = /_(total|count|bucket)$/;
const METRIC_TYPE_COUNTER = 1; // io.prometheus.write.v2.Metadata.MetricType.METRIC_TYPE_COUNTER

/** Builds the entry for a series not seen before: decode, validate, split off the HA labels. */
function resolve(dec: DecodedWrite, i: number, key: Uint8Array, limits: Limits): SeriesEntry {
  const { buf, labelRanges: r } = dec;
  const from = dec.labelStart[i]!;
  const to = dec.labelStart[i + 1]!;
  const pairs: string[] = [];
  let reject: string | null = null;
  for (let j = from; j < to; j++) {
    const o = j * 4;
    let name: string;
    let value: string;
    try {
      name = intern(utf8.decode(buf.subarray(r[o]!, r[o]! + r[o + 1]!)));
      value = intern(utf8.decode(buf.subarray(r[o + 2]!, r[o + 2]! + r[o + 3]!)));
    } catch {
      const bad = String.fromCharCode(...buf.subarray(r[o]!, r[o]! + Math.min(r[o + 1]!, 64)));
      return rejected(key, `{${pairs.join(', ')}}`, `label ${JSON.stringify(bad)} is not valid UTF-8`);
    }
    pairs.push(name, value);
    if (reject !== null) continue;
    if (name === '') reject = 'empty label name';
    else if (j > from) {
      const c = compareBytes(buf, r[o - 4]!, r[o - 3]!, r[o]!, r[o + 1]!);
      if (c === 0) reject = `duplicate label name ${JSON.stringify(name)}`;
      else if (c > 0) reject = `labels are not sorted by name (${JSON.stringify(name)} after ${JSON.stringify(pairs[pairs.length - 4])})`;
    }
    if (reject === null && limits.max_label_name_length > 0 && r[o + 1]! > limits.max_label_name_length) {
      reject = `label name ${JSON.stringify(name.slice(0, 64))}… is ${r[o + 1]} bytes long (limit max_label_name_length=${limits.max_label_name_length})`;
    }
    if (reject === null && limits.max_label_value_length > 0 && r[o + 3]! > limits.max_label_value_length) {
      reject = `value of label ${JSON.stringify(name)} is ${r[o + 3]} bytes long (limit max_label_value_length=${limits.max_label_value_length})`;
    }
  }
  // Empty values mean "label absent" in Prometheus's data model; drop them before storing.
  const kept: string[] = [];
  let cluster = '';
  let replica = '';
  let metricName = '';
  for (let k = 0; k < pairs.length; k += 2) {
    const n = pairs[k]!;
    const v = pairs[k + 1]!;
    if (v === '') continue;
    if (n === METRIC_NAME) metricName = v;
    if (limits.accept_ha_samples && n === limits.ha_cluster_label) cluster = v;
    if (limits.accept_ha_samples && n === limits.ha_replica_label) replica = v;
    kept.push(n, v);
  }
  if (reject === null && metricName === '') reject = 'missing metric name (__name__ label)';
  if (reject === null && limits.max_label_names_per_series > 0 && kept.length / 2 > limits.max_label_names_per_series) {
    reject = `series has ${kept.length / 2} labels (limit max_label_names_per_series=${limits.max_label_names_per_series})`;
  }
  if (reject !== null) return rejected(key, labelsToString(Object.freeze(kept.slice())), reject);
  let labels: Labels;
  if (cluster !== '' && replica !== '') {
    const idx = kept.indexOf(limits.ha_replica_label);
    // indexOf can hit a value equal to the label name; names sit at even positions.
    let at = idx;
    while (at >= 0 && at % 2 === 1) at = kept.indexOf(limits.ha_replica_label, at + 1);
    kept.splice(at, 2);
    labels = Object.freeze(kept);
  } else {
    cluster = '';
    replica = '';
    labels = Object.freeze(kept);
  }
  const isCounter = dec.metricType[i] === METRIC_TYPE_COUNTER || (dec.metricType[i] === 0 && COUNTER_SUFFIX.test(metricName));
  return new SeriesEntry(key, null, labels, cluster, replica, limits.ha_replica_label, isCounter);
}

function rejected(key: Uint8Array, text: string, reason: string): SeriesEntry {
  return new SeriesEntry(key, reason, Object.freeze([]), '', '', '', false, text);
}

/** Hashes bytes [s, e) four at a time (the hot path: every series of every request). */
function hashSpan(b: Uint8Array, s: number, e: number): number {
  let h = (e - s) ^ 0x2545f491;
  let k = s;
  for (; k + 4 <= e; k += 4) {
    h = Math.imul(h ^ (b[k]! | (b[k + 1]! << 8) | (b[k + 2]! << 16) | (b[k + 3]! << 24)), 0x9e3779b1);
    h ^= h >>> 15;
  }
  for (; k < e; k++) h = Math.imul(h ^ b[k]!, 0x01000193);
  return h & 0x3fffffff; // a small integer (Smi) keeps Map lookups off the heap-number path
}

type Bucket = SeriesEntry | SeriesEntry[];

/**
 * Per-tenant cache of received label sets. Bounded: cleared when it outgrows `maxEntries`.
 *
 * Remote write 1.0 encodes a series' labels as consecutive submessages, so the raw byte span from the
 * first label name to the last label value identifies the label set: it is hashed and compared natively
 * as is. (A sender that frames the same labels differently just gets a second entry for the same series.)
 * Remote write 2.0 labels are references into a per-request symbol table, so there the resolved
 * name/value bytes are hashed pair by pair.
 */
export class SeriesCache {
  private readonly spans = new Map<number, Bucket>();
  private readonly pairs = new Map<number, Bucket>();
  private entries = 0;
  private readonly maxEntries: number;
  hits = 0;
  misses = 0;

  constructor(maxEntries = 4_000_000) {
    this.maxEntries = maxEntries;
  }

  lookup(dec: DecodedWrite, i: number, limits: Limits): SeriesEntry {
    const from = dec.labelStart[i]!;
    const to = dec.labelStart[i + 1]!;
    const buf = dec.buf;
    const r = dec.labelRanges;
    const bySpan = dec.version === 1 && to > from;
    let h: number;
    let s = 0;
    let e = 0;
    if (bySpan) {
      s = r[from * 4]!;
      e = r[(to - 1) * 4 + 2]! + r[(to - 1) * 4 + 3]!;
      h = hashSpan(buf, s, e);
    } else {
      h = hashPairs(buf, r, from, to);
    }
    const map = bySpan ? this.spans : this.pairs;
    const found = map.get(h);
    if (found !== undefined) {
      if (!Array.isArray(found)) {
        if (bySpan ? spanEquals(found.key, buf, s, e) : sameKey(found.key, buf, r, from, to)) {
          this.hits++;
          return found;
        }
      } else {
        for (const x of found) {
          if (bySpan ? spanEquals(x.key, buf, s, e) : sameKey(x.key, buf, r, from, to)) {
            this.hits++;
            return x;
          }
        }
      }
    }
    this.misses++;
    const key = bySpan ? Buffer.from(buf.subarray(s, e)) : makeKey(buf, r, from, to);
    const entry = resolve(dec, i, key, limits);
    if (this.entries >= this.maxEntries) {
      this.clear();
      return entry;
    }
    if (found === undefined) map.set(h, entry);
    else if (Array.isArray(found)) found.push(entry);
    else map.set(h, [found, entry]);
    this.entries++;
    return entry;
  }

  /** Forgets everything (limits changed). */
  clear(): void {
    this.spans.clear();
    this.pairs.clear();
    this.entries = 0;
  }
}

function spanEquals(key: Uint8Array, buf: Uint8Array, s: number, e: number): boolean {
  return key.length === e - s && (key as Buffer).compare(buf, s, e) === 0;
}
