/**
 * The index header of a block in a bucket: what the store gateway keeps in memory to answer queries with
 * range reads only. It is built from three ranged reads of the index file (plus one size lookup): the TOC
 * (last 52 bytes), the symbol table and the postings offset table (index format v2, Prometheus
 * `tsdb/docs/format/index.md`). Series entries and postings lists stay in the bucket and are read on demand.
 *
 * Memory: every symbol as a string, and per postings-table entry a 4-byte symbol reference and an 8-byte
 * offset (values point into the symbol array, so a value string is held once). `memoryBytes` estimates it;
 * for a typical block that is about (symbol bytes + 20 per symbol) + 12 per label pair in the table.
 *
 * Postings lists are written back to back in the order of the offset table, so a list ends where the next
 * one starts (up to 3 bytes of padding), and the last one ends where the label index table begins: that
 * gives each list's byte range without reading it.
 */
import type { Bucket } from '../objstore/index.js';
import { BlockFormatError, Decoder, checkCrc, compareUtf8 } from '../tsdb/block/encoding.js';
import { getRange, type ByteRange, type FetchStats } from './fetch.js';

export const INDEX_MAGIC = 0xbaaad700;
export const INDEX_HEADER_SIZE = 5;
export const INDEX_TOC_SIZE = 6 * 8 + 4;

export interface Toc {
  symbols: number;
  series: number;
  labelIndices: number;
  labelIndicesTable: number;
  postings: number;
  postingsTable: number;
}

/** The postings lists of one label name: value symbol refs in index order and each list's byte range. */
export interface NameEntry {
  /** Symbol references of the values, ascending (= UTF-8 order of the values). */
  values: Uint32Array;
  /** `starts[i]` is where value i's list begins, `starts[i + 1]` where it ends (exclusive). */
  starts: Float64Array;
}

export class IndexHeader {
  constructor(
    /** Where errors say the data came from, e.g. `memory:01H.../index`. */
    readonly file: string,
    readonly size: number,
    readonly toc: Toc,
    readonly symbols: readonly string[],
    private readonly names: ReadonlyMap<string, NameEntry>,
    /** Byte range of the all-series postings list (`""=""`), or null when the index has none. */
    readonly allPostings: ByteRange | null,
    /**
     * True when no symbol holds a UTF-16 surrogate: then the index's UTF-8 order of series equals the
     * UTF-16 order the rest of Argus sorts by, and series can be streamed in index order.
     */
    readonly indexOrderIsModelOrder: boolean,
    /** End of the series section (exclusive): no series entry reaches past it. */
    readonly seriesEnd: number,
  ) {}

  /** Label names in index order. */
  labelNames(): string[] {
    return [...this.names.keys()];
  }

  /** Values of `name` in index order. */
  labelValues(name: string): string[] {
    const e = this.names.get(name);
    if (e === undefined) return [];
    const out: string[] = new Array(e.values.length);
    for (let i = 0; i < e.values.length; i++) out[i] = this.symbols[e.values[i]!]!;
    return out;
  }

  nameEntry(name: string): NameEntry | undefined {
    return this.names.get(name);
  }

  /** Byte range of the postings list of `name="value"`, or null when no series has that pair. */
  postingsRange(name: string, value: string): ByteRange | null {
    const e = this.names.get(name);
    if (e === undefined) return null;
    const i = this.findValue(e, value);
    return i < 0 ? null : { start: e.starts[i]!, end: e.starts[i + 1]! };
  }

  private findValue(e: NameEntry, value: string): number {
    let lo = 0;
    let hi = e.values.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareUtf8(this.symbols[e.values[mid]!]!, value);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  private memo = -1;

  /** Estimated heap bytes this header holds (see the file comment); computed once. */
  memoryBytes(): number {
    if (this.memo >= 0) return this.memo;
    let n = 200 + this.symbols.length * 4;
    // V8 keeps Latin-1 strings at one byte per character, others at two; a string header is ~16 bytes.
    for (const s of this.symbols) n += 16 + (s.length + 3) * (/[^\x00-\xff]/.test(s) ? 2 : 1);
    for (const e of this.names.values()) n += 150 + e.values.byteLength + e.starts.byteLength;
    return (this.memo = n);
  }
}

/** Reads the index header of the index object `key` with ranged reads only. */
export async function readIndexHeader(bucket: Bucket, key: string, stats: FetchStats): Promise<IndexHeader> {
  const file = `${bucket.name}:${key}`;
  let size: number;
  try {
    size = (await bucket.attributes(key)).size;
  } catch (err) {
    throw new Error(`${file}: cannot read the index size: ${(err as Error).message}`, { cause: err });
  }
  if (size < INDEX_HEADER_SIZE + INDEX_TOC_SIZE) {
    throw new BlockFormatError(file, 0, `file has only ${size} bytes, too short for a header and a TOC`);
  }
  const head = await getRange(bucket, key, 0, INDEX_HEADER_SIZE, stats);
  checkIndexStart(head, file);
  const tocBuf = await getRange(bucket, key, size - INDEX_TOC_SIZE, INDEX_TOC_SIZE, stats);
  const toc = parseToc(tocBuf, file, size);
  const seriesEnd = sectionEnd(toc, toc.series, size);

  let symbols: string[] = [];
  let safe = true;
  if (toc.symbols !== 0) {
    const end = sectionEnd(toc, toc.symbols, size);
    const buf = await getRange(bucket, key, toc.symbols, end - toc.symbols, stats);
    ({ symbols, safe } = await rebasedAsync(toc.symbols, () => parseSymbols(buf, file)));
  }
  let names = new Map<string, NameEntry>();
  let all: ByteRange | null = null;
  if (toc.postingsTable !== 0) {
    const at = toc.postingsTable;
    const buf = await getRange(bucket, key, at, size - INDEX_TOC_SIZE - at, stats);
    const postingsEnd = toc.labelIndicesTable > toc.postings ? toc.labelIndicesTable : toc.postingsTable;
    ({ names, all } = await rebasedAsync(at, () => parsePostingsTable(buf, file, symbols, toc.postings, postingsEnd)));
  }
  return new IndexHeader(file, size, toc, symbols, names, all, safe, seriesEnd);
}

function checkIndexStart(buf: Uint8Array, file: string): void {
  const d = new Decoder(buf, file);
  const magic = d.be32('magic');
  if (magic !== INDEX_MAGIC) d.fail(`bad magic 0x${magic.toString(16)} (want 0xbaaad700)`, 0);
  const version = d.u8('version');
  if (version !== 2) d.fail(`unsupported index format version ${version} (only 2 is read)`, 4);
}

/** The TOC: six big-endian uint64 section offsets and a CRC-32C of them. */
export function parseToc(buf: Uint8Array, file: string, size: number): Toc {
  const base = size - INDEX_TOC_SIZE;
  return rebased(base, () => {
    if (buf.length !== INDEX_TOC_SIZE) throw new BlockFormatError(file, 0, `TOC: read ${buf.length} bytes, want ${INDEX_TOC_SIZE}`);
    checkCrc(buf, file, 0, INDEX_TOC_SIZE - 4, 'TOC');
    const d = new Decoder(buf, file, 0, INDEX_TOC_SIZE - 4);
    const ref = (what: string): number => {
      const at = d.pos;
      const v = d.be64(`TOC ${what}`);
      if (v !== 0 && (v < INDEX_HEADER_SIZE || v > base)) d.fail(`TOC ${what} offset ${v} is outside the file (${size} bytes)`, at);
      return v;
    };
    return {
      symbols: ref('symbols'),
      series: ref('series'),
      labelIndices: ref('label indices'),
      labelIndicesTable: ref('label indices table'),
      postings: ref('postings'),
      postingsTable: ref('postings offset table'),
    };
  });
}

/** Where the section starting at `at` ends at the latest: the next section's start, or the TOC. */
function sectionEnd(toc: Toc, at: number, size: number): number {
  let end = size - INDEX_TOC_SIZE;
  for (const v of Object.values(toc)) if (v > at && v < end) end = v;
  return end;
}

/** A section `len(4) body CRC(4)` at the start of `buf`: a decoder over its body. */
function section(buf: Uint8Array, file: string, what: string): Decoder {
  const d = new Decoder(buf, file);
  const len = d.be32(`${what} length`);
  d.need(len + 4, what);
  checkCrc(buf, file, 4, 4 + len, what);
  return new Decoder(buf, file, 4, 4 + len);
}

export async function parseSymbols(buf: Uint8Array, file: string): Promise<{ symbols: string[]; safe: boolean }> {
  const d = section(buf, file, 'symbol table');
  const count = d.be32('symbol count');
  // Every symbol takes at least one byte, which bounds the count before anything is allocated.
  if (count > d.remaining()) d.fail(`symbol count ${count} exceeds the table's ${d.remaining()} bytes`);
  const symbols: string[] = new Array(count);
  let safe = true;
  const pause = new Pauser();
  for (let i = 0; i < count; i++) {
    if ((i & 4095) === 4095) await pause.maybe();
    const at = d.pos;
    const s = d.str('symbol');
    if (i > 0 && compareUtf8(symbols[i - 1]!, s) >= 0) d.fail(`symbol ${i} ${JSON.stringify(s)} is not after ${JSON.stringify(symbols[i - 1])}`, at);
    if (safe && /[\ud800-\udfff]/.test(s)) safe = false;
    symbols[i] = s;
  }
  return { symbols, safe };
}

/**
 * The postings offset table: `len(4) count(4)` then per entry `2, name, value, uvarint offset`, sorted by
 * name then value. Values are resolved to symbol references; every list's start must lie in the postings
 * section and increase along the table (the ranges are derived from that order).
 */
export async function parsePostingsTable(
  buf: Uint8Array,
  file: string,
  symbols: readonly string[],
  postingsStart: number,
  postingsEnd: number,
): Promise<{ names: Map<string, NameEntry>; all: ByteRange | null }> {
  const d = section(buf, file, 'postings offset table');
  const count = d.be32('postings offset count');
  // An entry takes at least 4 bytes (key count, two lengths, an offset).
  if (count * 4 > d.remaining()) d.fail(`postings offset count ${count} cannot fit in ${d.remaining()} bytes`);
  // Entries in table order; each list ends where the next entry's list starts.
  const entryName: number[] = [];
  const entryRef: number[] = [];
  const entryOff: number[] = [];
  const nameRefs: number[] = [];
  let allOff = -1;
  // Values of one name ascend, and so do their symbols: each lookup starts after the previous one.
  let from = 0;
  let prevName: string | null = null;
  let prevValue = '';
  let prevOff = -1;
  for (let i = 0; i < count; i++) {
    const at = d.pos;
    const keys = d.uvarint('postings offset key count');
    if (keys !== 2) d.fail(`postings offset entry ${i} has ${keys} keys (want 2)`, at);
    const name = d.str('label name');
    const value = d.str('label value');
    const off = d.uvarint('postings offset');
    const pair = `${name}=${JSON.stringify(value)}`;
    if (off < postingsStart || off >= postingsEnd) d.fail(`postings offset ${off} of ${pair} is outside the postings section [${postingsStart}, ${postingsEnd})`, at);
    if (off <= prevOff) d.fail(`postings offset ${off} of ${pair} does not increase (previous ${prevOff})`, at);
    if (prevName !== null && (compareUtf8(prevName, name) || compareUtf8(prevValue, value)) >= 0) {
      d.fail(`postings offset table out of order at ${pair}`, at);
    }
    const sameName = prevName === name;
    prevName = name;
    prevValue = value;
    prevOff = off;
    if (name === '' && value === '') {
      allOff = off;
      continue;
    }
    if (!sameName) {
      const nameRef = findSymbol(symbols, name, 0);
      if (nameRef < 0) d.fail(`label name ${JSON.stringify(name)} is not in the symbol table`, at);
      nameRefs.push(nameRef);
      from = 0;
    }
    const ref = findSymbol(symbols, value, from);
    if (ref < 0) d.fail(`label value ${JSON.stringify(value)} of ${name} is not in the symbol table`, at);
    from = ref + 1;
    entryName.push(nameRefs.length - 1);
    entryRef.push(ref);
    entryOff.push(off);
  }
  if (d.remaining() !== 0) d.fail(`${d.remaining()} bytes left after ${count} postings offset entries`);

  const all: ByteRange | null = allOff < 0 ? null : { start: allOff, end: entryOff.length > 0 ? entryOff[0]! : postingsEnd };
  const names = new Map<string, NameEntry>();
  let k = 0;
  for (let n = 0; n < nameRefs.length; n++) {
    let j = k;
    while (j < entryName.length && entryName[j] === n) j++;
    const values = Uint32Array.from(entryRef.slice(k, j));
    const starts = new Float64Array(j - k + 1);
    for (let x = k; x < j; x++) starts[x - k] = entryOff[x]!;
    starts[j - k] = j < entryOff.length ? entryOff[j]! : postingsEnd;
    names.set(symbols[nameRefs[n]!]!, { values, starts });
    k = j;
  }
  return { names, all };
}

/** Index of `s` in the sorted `symbols` at or after `from` (galloping, then binary search), or -1. */
function findSymbol(symbols: readonly string[], s: string, from: number): number {
  let lo = from;
  let step = 1;
  let hi = symbols.length - 1;
  // Gallop: consecutive lookups usually land close to each other.
  while (lo + step <= hi && compareUtf8(symbols[lo + step]!, s) < 0) {
    lo += step;
    step *= 2;
  }
  hi = Math.min(hi, lo + step);
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareUtf8(symbols[mid]!, s);
    if (c === 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * Gives the event loop a turn when the caller has held it for more than 10 ms: a block with millions of
 * series has tables that take seconds to parse.
 */
class Pauser {
  private since = performance.now();
  async maybe(): Promise<void> {
    if (performance.now() - this.since < 10) return;
    await new Promise((r) => setImmediate(r));
    this.since = performance.now();
  }
}

/** `rebased` for asynchronous work. */
export async function rebasedAsync<T>(base: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    return rebased(base, () => {
      throw err;
    });
  }
}

/** Runs `fn` over a buffer read at `base`, turning buffer offsets in format errors into file offsets. */
export function rebased<T>(base: number, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof BlockFormatError && base !== 0) {
      const prefix = `${err.file}: at offset ${err.offset}: `;
      const msg = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
      throw new BlockFormatError(err.file, err.offset + base, msg);
    }
    throw err;
  }
}
