/**
 * Remote read (`prometheus.ReadRequest` / `ReadResponse` / `ChunkedReadResponse`). Requests are small,
 * so they decode to plain objects; responses carry the bulk and are written straight into a Writer.
 *
 * Field numbers (from the upstream remote.proto / types.proto):
 *   ReadRequest: 1 queries, 2 accepted_response_types (SAMPLES = 0, STREAMED_XOR_CHUNKS = 1)
 *   Query: 1 start_timestamp_ms, 2 end_timestamp_ms, 3 matchers, 4 hints
 *   LabelMatcher: 1 type (EQ 0, NEQ 1, RE 2, NRE 3), 2 name, 3 value
 *   ReadHints: 1 step_ms, 2 func, 3 start_ms, 4 end_ms, 5 grouping, 6 by, 7 range_ms
 *   ReadResponse: 1 results; QueryResult: 1 timeseries (v1 TimeSeries)
 *   ChunkedReadResponse: 1 chunked_series, 2 query_index; ChunkedSeries: 1 labels, 2 chunks
 *   Chunk: 1 min_time_ms, 2 max_time_ms, 3 type, 4 data
 */
import type { Labels } from '../model/index.js';
import { crc32c } from './crc32c.js';
import { DecodeError, Reader, Writer, WIRE_I64, WIRE_LEN, WIRE_VARINT, utf8 } from './protobuf.js';
import { writeLabelV1, writeSeriesV1, type WriteSeries } from './remote-write-encode.js';
import { VARINT_TRUNCATED, readUvarint, uvarintSize, writeUvarint } from './varint.js';

export const RESPONSE_TYPE_SAMPLES = 0;
export const RESPONSE_TYPE_STREAMED_XOR_CHUNKS = 1;

/** Chunk.Encoding (matches the TSDB chunk encodings). */
export const ChunkEncoding = {
  UNKNOWN: 0,
  XOR: 1,
  HISTOGRAM: 2,
  FLOAT_HISTOGRAM: 3,
  XOR2: 4,
  HISTOGRAM_ST: 5,
  FLOAT_HISTOGRAM_ST: 6,
} as const;

export interface ReadMatcher {
  /** LabelMatcher.Type: EQ = 0, NEQ = 1, RE = 2, NRE = 3 (the same numbers as model's MatchType). */
  type: 0 | 1 | 2 | 3;
  name: string;
  value: string;
}

export interface ReadHints {
  stepMs: number;
  func: string;
  startMs: number;
  endMs: number;
  grouping: string[];
  by: boolean;
  rangeMs: number;
}

export interface ReadQuery {
  startMs: number;
  endMs: number;
  matchers: ReadMatcher[];
  hints: ReadHints | null;
}

export interface ReadRequest {
  queries: ReadQuery[];
  /** ReadRequest.ResponseType values in the client's order of preference; empty means SAMPLES. */
  acceptedResponseTypes: number[];
}

export interface ReadSeries {
  labels: Labels;
  timestamps: Float64Array;
  /** Bit-exact (stale markers survive). */
  values: Float64Array;
}

export interface ReadChunk {
  minTimeMs: number;
  maxTimeMs: number;
  /** Chunk.Encoding */
  type: number;
  data: Uint8Array;
}

export interface ChunkedSeries {
  labels: Labels;
  chunks: ReadChunk[];
}

// ---------------------------------------------------------------------------------------------------
// Request

/** Decodes an (already decompressed) `prometheus.ReadRequest`. Throws DecodeError on malformed input. */
export function decodeReadRequest(buf: Uint8Array): ReadRequest {
  const r = new Reader(buf);
  const end = buf.length;
  const req: ReadRequest = { queries: [], acceptedResponseTypes: [] };
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.tag(end, 'ReadRequest');
    if (tag === ((1 << 3) | WIRE_LEN)) {
      const e = r.lenEnd(end, 'ReadRequest.queries');
      req.queries.push(decodeQuery(r, e, `queries[${req.queries.length}]`));
    } else if (tag === ((2 << 3) | WIRE_VARINT)) {
      req.acceptedResponseTypes.push(r.int32(end, 'ReadRequest.accepted_response_types'));
    } else if (tag === ((2 << 3) | WIRE_LEN)) {
      const e = r.lenEnd(end, 'ReadRequest.accepted_response_types');
      while (r.pos < e) req.acceptedResponseTypes.push(r.int32(e, 'ReadRequest.accepted_response_types'));
    } else if (tag >>> 3 === 1) {
      r.wrongType(tag, 'ReadRequest', at);
    } else {
      r.skip(tag, end, `ReadRequest field ${tag >>> 3}`);
    }
  }
  return req;
}

function decodeQuery(r: Reader, end: number, what: string): ReadQuery {
  const q: ReadQuery = { startMs: 0, endMs: 0, matchers: [], hints: null };
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.tag(end, what);
    if (tag === ((1 << 3) | WIRE_VARINT)) q.startMs = r.int64(end, `${what}.start_timestamp_ms`);
    else if (tag === ((2 << 3) | WIRE_VARINT)) q.endMs = r.int64(end, `${what}.end_timestamp_ms`);
    else if (tag === ((3 << 3) | WIRE_LEN)) {
      const e = r.lenEnd(end, `${what}.matchers`);
      q.matchers.push(decodeMatcher(r, e, `${what}.matchers[${q.matchers.length}]`));
    } else if (tag === ((4 << 3) | WIRE_LEN)) {
      const e = r.lenEnd(end, `${what}.hints`);
      // A repeated embedded message merges into the earlier one (protobuf semantics).
      q.hints = decodeHints(r, e, `${what}.hints`, q.hints);
    } else if (tag >>> 3 >= 1 && tag >>> 3 <= 4) r.wrongType(tag, what, at);
    else r.skip(tag, end, `${what} field ${tag >>> 3}`);
  }
  return q;
}

function readString(r: Reader, end: number, what: string): string {
  const e = r.lenEnd(end, what);
  const s = utf8(r.buf, r.pos, e - r.pos);
  r.pos = e;
  return s;
}

function decodeMatcher(r: Reader, end: number, what: string): ReadMatcher {
  const m: ReadMatcher = { type: 0, name: '', value: '' };
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.tag(end, what);
    if (tag === ((1 << 3) | WIRE_VARINT)) {
      const t = r.int32(end, `${what}.type`);
      if (t < 0 || t > 3) r.fail(`${what}.type`, `unknown matcher type ${t}`, at);
      m.type = t as 0 | 1 | 2 | 3;
    } else if (tag === ((2 << 3) | WIRE_LEN)) m.name = readString(r, end, `${what}.name`);
    else if (tag === ((3 << 3) | WIRE_LEN)) m.value = readString(r, end, `${what}.value`);
    else if (tag >>> 3 >= 1 && tag >>> 3 <= 3) r.wrongType(tag, what, at);
    else r.skip(tag, end, `${what} field ${tag >>> 3}`);
  }
  return m;
}

function decodeHints(r: Reader, end: number, what: string, prev: ReadHints | null): ReadHints {
  const h: ReadHints = prev ?? { stepMs: 0, func: '', startMs: 0, endMs: 0, grouping: [], by: false, rangeMs: 0 };
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.tag(end, what);
    switch (tag) {
      case (1 << 3) | WIRE_VARINT:
        h.stepMs = r.int64(end, `${what}.step_ms`);
        break;
      case (2 << 3) | WIRE_LEN:
        h.func = readString(r, end, `${what}.func`);
        break;
      case (3 << 3) | WIRE_VARINT:
        h.startMs = r.int64(end, `${what}.start_ms`);
        break;
      case (4 << 3) | WIRE_VARINT:
        h.endMs = r.int64(end, `${what}.end_ms`);
        break;
      case (5 << 3) | WIRE_LEN:
        h.grouping.push(readString(r, end, `${what}.grouping`));
        break;
      case (6 << 3) | WIRE_VARINT:
        // bool: any non-zero varint is true.
        h.by = (r.varintLo(end, `${what}.by`) | r.hi) !== 0;
        break;
      case (7 << 3) | WIRE_VARINT:
        h.rangeMs = r.int64(end, `${what}.range_ms`);
        break;
      default:
        if (tag >>> 3 >= 1 && tag >>> 3 <= 7) r.wrongType(tag, what, at);
        r.skip(tag, end, `${what} field ${tag >>> 3}`);
    }
  }
  return h;
}

/** Encodes a `prometheus.ReadRequest` (uncompressed). */
export function encodeReadRequest(req: ReadRequest): Uint8Array {
  const w = new Writer(256);
  for (const q of req.queries) {
    w.tag(1, WIRE_LEN);
    const qs = w.fork();
    int64Field(w, 1, q.startMs);
    int64Field(w, 2, q.endMs);
    for (const m of q.matchers) {
      w.tag(3, WIRE_LEN);
      const ms = w.fork();
      int64Field(w, 1, m.type);
      stringField(w, 2, m.name);
      stringField(w, 3, m.value);
      w.join(ms);
    }
    if (q.hints !== null) {
      const h = q.hints;
      w.tag(4, WIRE_LEN);
      const hs = w.fork();
      int64Field(w, 1, h.stepMs);
      stringField(w, 2, h.func);
      int64Field(w, 3, h.startMs);
      int64Field(w, 4, h.endMs);
      for (const g of h.grouping) {
        w.tag(5, WIRE_LEN);
        w.string(g);
      }
      int64Field(w, 6, h.by ? 1 : 0);
      int64Field(w, 7, h.rangeMs);
      w.join(hs);
    }
    w.join(qs);
  }
  if (req.acceptedResponseTypes.length > 0) {
    w.tag(2, WIRE_LEN);
    const s = w.fork();
    for (const t of req.acceptedResponseTypes) w.int64(t);
    w.join(s);
  }
  return w.finish();
}

function int64Field(w: Writer, field: number, v: number): void {
  if (v === 0) return;
  if (!Number.isInteger(v)) throw new RangeError(`field ${field}: ${v} is not an integer`);
  w.tag(field, WIRE_VARINT);
  w.int64(v);
}

function stringField(w: Writer, field: number, s: string): void {
  if (s === '') return;
  w.tag(field, WIRE_LEN);
  w.string(s);
}

// ---------------------------------------------------------------------------------------------------
// SAMPLES response

/** Encodes `ReadResponse{results: [QueryResult{timeseries}]}`, one result per query, values bit-exact. */
export function encodeReadResponse(results: readonly (readonly WriteSeries[])[]): Uint8Array {
  let size = 64;
  for (const res of results) for (const s of res) size += 16 + 24 * s.labels.length + 20 * s.timestamps.length;
  const w = new Writer(size);
  for (const res of results) {
    w.tag(1, WIRE_LEN);
    const rs = w.fork();
    for (const s of res) writeSeriesV1(w, 1, s.labels, s.timestamps, s.values);
    w.join(rs);
  }
  return w.finish();
}

// Scratch for one series' samples while decoding a response; copied out per series so results never alias it.
let scratchTs = new Float64Array(256);
let scratchVals = new Float64Array(256);
let scratchWords = new Uint32Array(scratchVals.buffer);

function growScratch(): void {
  const cap = scratchTs.length * 2;
  const ts = new Float64Array(cap);
  ts.set(scratchTs);
  const vs = new Float64Array(cap);
  vs.set(scratchVals);
  scratchTs = ts;
  scratchVals = vs;
  scratchWords = new Uint32Array(vs.buffer);
}

/** Decodes a `prometheus.ReadResponse` into one list of series per query. Native histograms are skipped. */
export function decodeReadResponse(buf: Uint8Array): ReadSeries[][] {
  const r = new Reader(buf);
  const end = buf.length;
  const out: ReadSeries[][] = [];
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.tag(end, 'ReadResponse');
    if (tag === ((1 << 3) | WIRE_LEN)) {
      const e = r.lenEnd(end, 'ReadResponse.results');
      const what = `results[${out.length}]`;
      const list: ReadSeries[] = [];
      while (r.pos < e) {
        const fat = r.pos;
        const t = r.tag(e, what);
        if (t === ((1 << 3) | WIRE_LEN)) {
          const se = r.lenEnd(e, `${what}.timeseries`);
          list.push(decodeReadSeries(r, se, `${what}.timeseries[${list.length}]`));
        } else if (t >>> 3 === 1) r.wrongType(t, what, fat);
        else r.skip(t, e, `${what} field ${t >>> 3}`);
      }
      out.push(list);
    } else if (tag >>> 3 === 1) r.wrongType(tag, 'ReadResponse', at);
    else r.skip(tag, end, `ReadResponse field ${tag >>> 3}`);
  }
  return out;
}

function decodeLabel(r: Reader, end: number, what: string, out: string[]): void {
  let name = '';
  let value = '';
  while (r.pos < end) {
    const at = r.pos;
    const t = r.tag(end, what);
    if (t === ((1 << 3) | WIRE_LEN)) name = readString(r, end, `${what}.name`);
    else if (t === ((2 << 3) | WIRE_LEN)) value = readString(r, end, `${what}.value`);
    else if (t >>> 3 === 1 || t >>> 3 === 2) r.wrongType(t, what, at);
    else r.skip(t, end, `${what} field ${t >>> 3}`);
  }
  out.push(name, value);
}

function decodeReadSeries(r: Reader, end: number, what: string): ReadSeries {
  const labels: string[] = [];
  let n = 0;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.tag(end, what);
    if (tag === ((1 << 3) | WIRE_LEN)) {
      const e = r.lenEnd(end, `${what}.labels`);
      decodeLabel(r, e, `${what}.labels`, labels);
    } else if (tag === ((2 << 3) | WIRE_LEN)) {
      const e = r.lenEnd(end, `${what}.samples`);
      let ts = 0;
      let lo = 0;
      let hi = 0;
      while (r.pos < e) {
        const fat = r.pos;
        const t = r.tag(e, 'Sample');
        if (t === ((1 << 3) | WIRE_I64)) {
          const p = r.fixed64(e, 'Sample.value');
          lo = r.view.getUint32(p, true);
          hi = r.view.getUint32(p + 4, true);
        } else if (t === ((2 << 3) | WIRE_VARINT)) ts = r.int64(e, 'Sample.timestamp');
        else if (t >>> 3 === 1 || t >>> 3 === 2) r.wrongType(t, `${what}.samples`, fat);
        else r.skip(t, e, `Sample field ${t >>> 3}`);
      }
      if (n === scratchTs.length) growScratch();
      scratchTs[n] = ts;
      scratchWords[2 * n] = lo;
      scratchWords[2 * n + 1] = hi;
      n++;
    } else if (tag === ((3 << 3) | WIRE_LEN) || tag === ((4 << 3) | WIRE_LEN)) {
      r.pos = r.lenEnd(end, `${what}.${tag >>> 3 === 3 ? 'exemplars' : 'histograms'}`);
    } else if (tag >>> 3 >= 1 && tag >>> 3 <= 4) r.wrongType(tag, what, at);
    else r.skip(tag, end, `${what} field ${tag >>> 3}`);
  }
  return { labels: Object.freeze(labels), timestamps: scratchTs.slice(0, n), values: scratchVals.slice(0, n) };
}

// ---------------------------------------------------------------------------------------------------
// STREAMED_XOR_CHUNKS response

/**
 * Encodes one frame of a streamed remote-read response: uvarint(message length), the message's CRC-32C
 * as 4 big-endian bytes, then the `ChunkedReadResponse` message itself.
 */
export function encodeChunkedReadFrame(seriesList: readonly ChunkedSeries[], queryIndex: number): Uint8Array {
  let size = 64;
  for (const s of seriesList) {
    size += 16 + 24 * s.labels.length;
    for (const c of s.chunks) size += 40 + c.data.length;
  }
  const w = new Writer(size);
  for (const s of seriesList) {
    const ls = s.labels;
    if ((ls.length & 1) !== 0) throw new RangeError(`labels have odd length ${ls.length}`);
    w.tag(1, WIRE_LEN);
    const ss = w.fork();
    for (let i = 0; i < ls.length; i += 2) writeLabelV1(w, 1, ls[i]!, ls[i + 1]!);
    for (const c of s.chunks) {
      w.tag(2, WIRE_LEN);
      const cs = w.fork();
      int64Field(w, 1, c.minTimeMs);
      int64Field(w, 2, c.maxTimeMs);
      int64Field(w, 3, c.type);
      if (c.data.length > 0) {
        w.tag(4, WIRE_LEN);
        w.bytes(c.data);
      }
      w.join(cs);
    }
    w.join(ss);
  }
  int64Field(w, 2, queryIndex);
  const msg = w.finish();
  const head = uvarintSize(msg.length);
  const frame = new Uint8Array(head + 4 + msg.length);
  let p = writeUvarint(frame, 0, msg.length);
  const crc = crc32c(msg);
  frame[p++] = crc >>> 24;
  frame[p++] = (crc >>> 16) & 0xff;
  frame[p++] = (crc >>> 8) & 0xff;
  frame[p++] = crc & 0xff;
  frame.set(msg, p);
  return frame;
}

export interface ChunkedReadFrame {
  queryIndex: number;
  series: ChunkedSeries[];
  /** Offset just past this frame in the buffer given. */
  next: number;
}

/**
 * Decodes the frame starting at `offset`, checking its CRC. Chunk `data` are views into `buf` (no
 * copy): copy them if `buf` is reused.
 */
export function decodeChunkedReadFrame(buf: Uint8Array, offset = 0): ChunkedReadFrame {
  const [len, p0] = readUvarint(buf, offset);
  if (p0 < 0) {
    const problem = p0 === VARINT_TRUNCATED ? 'truncated' : 'overlong';
    throw new DecodeError(`ChunkedReadResponse frame: ${problem} length at offset ${offset}`, offset);
  }
  if (p0 + 4 > buf.length) throw new DecodeError(`ChunkedReadResponse frame: truncated checksum at offset ${p0}`, p0);
  const start = p0 + 4;
  if (len > buf.length - start) {
    throw new DecodeError(`ChunkedReadResponse frame: length ${len} exceeds the ${buf.length - start} bytes left at offset ${offset}`, offset);
  }
  const end = start + len;
  const want = ((buf[p0]! << 24) | (buf[p0 + 1]! << 16) | (buf[p0 + 2]! << 8) | buf[p0 + 3]!) >>> 0;
  const got = crc32c(buf, 0, start, end);
  if (want !== got) {
    throw new DecodeError(`ChunkedReadResponse frame: checksum mismatch (frame says ${hex(want)}, data has ${hex(got)}) at offset ${p0}`, p0);
  }
  const r = new Reader(buf, start);
  const series: ChunkedSeries[] = [];
  let queryIndex = 0;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.tag(end, 'ChunkedReadResponse');
    if (tag === ((1 << 3) | WIRE_LEN)) {
      const e = r.lenEnd(end, 'ChunkedReadResponse.chunked_series');
      series.push(decodeChunkedSeries(r, e, `chunked_series[${series.length}]`));
    } else if (tag === ((2 << 3) | WIRE_VARINT)) queryIndex = r.int64(end, 'ChunkedReadResponse.query_index');
    else if (tag >>> 3 === 1 || tag >>> 3 === 2) r.wrongType(tag, 'ChunkedReadResponse', at);
    else r.skip(tag, end, `ChunkedReadResponse field ${tag >>> 3}`);
  }
  return { queryIndex, series, next: end };
}

function decodeChunkedSeries(r: Reader, end: number, what: string): ChunkedSeries {
  const labels: string[] = [];
  const chunks: ReadChunk[] = [];
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.tag(end, what);
    if (tag === ((1 << 3) | WIRE_LEN)) {
      const e = r.lenEnd(end, `${what}.labels`);
      decodeLabel(r, e, `${what}.labels`, labels);
    } else if (tag === ((2 << 3) | WIRE_LEN)) {
      const e = r.lenEnd(end, `${what}.chunks`);
      const cw = `${what}.chunks[${chunks.length}]`;
      const c: ReadChunk = { minTimeMs: 0, maxTimeMs: 0, type: 0, data: r.buf.subarray(0, 0) };
      while (r.pos < e) {
        const fat = r.pos;
        const t = r.tag(e, cw);
        if (t === ((1 << 3) | WIRE_VARINT)) c.minTimeMs = r.int64(e, `${cw}.min_time_ms`);
        else if (t === ((2 << 3) | WIRE_VARINT)) c.maxTimeMs = r.int64(e, `${cw}.max_time_ms`);
        else if (t === ((3 << 3) | WIRE_VARINT)) c.type = r.int32(e, `${cw}.type`);
        else if (t === ((4 << 3) | WIRE_LEN)) {
          const de = r.lenEnd(e, `${cw}.data`);
          c.data = r.buf.subarray(r.pos, de);
          r.pos = de;
        } else if (t >>> 3 >= 1 && t >>> 3 <= 4) r.wrongType(t, cw, fat);
        else r.skip(t, e, `${cw} field ${t >>> 3}`);
      }
      chunks.push(c);
    } else if (tag >>> 3 === 1 || tag >>> 3 === 2) r.wrongType(tag, what, at);
    else r.skip(tag, end, `${what} field ${tag >>> 3}`);
  }
  return { labels: Object.freeze(labels), chunks };
}

function hex(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0');
}
