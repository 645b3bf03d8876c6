/**
 * Remote read (`POST /api/v1/read`): snappy-compressed `ReadRequest` in, either a `ReadResponse` with raw
 * samples or a stream of `ChunkedReadResponse` frames with XOR chunks out, as the client accepts.
 */
import {
  decodeReadRequest,
  encodeReadResponse,
  encodeChunkedReadFrame,
  snappyCompress,
  snappyUncompress,
  RESPONSE_TYPE_SAMPLES,
  RESPONSE_TYPE_STREAMED_XOR_CHUNKS,
  type ReadSeries,
} from '../codec/index.js';
import { Matcher, type MatchType } from '../model/matcher.js';
import { ValueType, type Querier } from '../storage/interface.js';
import { XorChunk, ENCODING_XOR } from '../tsdb/chunkenc/index.js';

export const REMOTE_READ_SAMPLE_LIMIT = 50_000_000;
const MAX_REQUEST_BYTES = 32 * 1024 * 1024;

export interface RemoteReadResult {
  status: number;
  contentType: string;
  contentEncoding?: string;
  body: Uint8Array | string;
}

export async function remoteRead(q: Querier, body: Uint8Array): Promise<RemoteReadResult> {
  let req;
  try {
    req = decodeReadRequest(snappyUncompress(body, MAX_REQUEST_BYTES));
  } catch (err) {
    return textError(400, `malformed remote-read request: ${(err as Error).message}`);
  }
  const types = req.acceptedResponseTypes;
  const streamed = types.length > 0 && !types.includes(RESPONSE_TYPE_SAMPLES) && types.includes(RESPONSE_TYPE_STREAMED_XOR_CHUNKS);
  if (types.length > 0 && !types.includes(RESPONSE_TYPE_SAMPLES) && !streamed) {
    return textError(400, `none of the accepted response types ${JSON.stringify(types)} is supported (0 = SAMPLES, 1 = STREAMED_XOR_CHUNKS)`);
  }
  let budget = REMOTE_READ_SAMPLE_LIMIT;
  const results: ReadSeries[][] = [];
  const frames: Uint8Array[] = [];
  for (let qi = 0; qi < req.queries.length; qi++) {
    const query = req.queries[qi]!;
    let matchers: Matcher[];
    try {
      matchers = query.matchers.map((m) => new Matcher(m.type as MatchType, m.name, m.value));
    } catch (err) {
      return textError(400, `query ${qi}: ${(err as Error).message}`);
    }
    const series: ReadSeries[] = [];
    for await (const s of q.select({ start: query.startMs, end: query.endMs }, matchers)) {
      const it = s.iterator();
      if (streamed) {
        const chunks: { minTimeMs: number; maxTimeMs: number; type: number; data: Uint8Array }[] = [];
        let c: XorChunk | null = null;
        let app = null as ReturnType<XorChunk['appender']> | null;
        let minT = 0;
        let maxT = 0;
        while (it.next() === ValueType.Float) {
          if (--budget < 0) return textError(400, `exceeded sample limit (${REMOTE_READ_SAMPLE_LIMIT})`);
          if (c === null || c.numSamples() >= 120) {
            if (c !== null) chunks.push({ minTimeMs: minT, maxTimeMs: maxT, type: ENCODING_XOR, data: c.bytes().slice() });
            c = new XorChunk();
            app = c.appender();
            minT = it.atT();
          }
          app!.append(it.atT(), it.atF());
          maxT = it.atT();
        }
        if (c !== null) chunks.push({ minTimeMs: minT, maxTimeMs: maxT, type: ENCODING_XOR, data: c.bytes().slice() });
        frames.push(encodeChunkedReadFrame([{ labels: s.labels, chunks }], qi));
      } else {
        const ts: number[] = [];
        const vs = new Float64Array(1024);
        let vals = vs;
        while (it.next() === ValueType.Float) {
          if (--budget < 0) return textError(400, `exceeded sample limit (${REMOTE_READ_SAMPLE_LIMIT})`);
          if (ts.length === vals.length) {
            const n = new Float64Array(vals.length * 2);
            n.set(vals);
            vals = n;
          }
          vals[ts.length] = it.atF();
          ts.push(it.atT());
        }
        series.push({ labels: s.labels, timestamps: Float64Array.from(ts), values: vals.slice(0, ts.length) });
      }
    }
    results.push(series);
  }
  if (streamed) {
    return {
      status: 200,
      contentType: 'application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse',
      body: Buffer.concat(frames),
    };
  }
  return {
    status: 200,
    contentType: 'application/x-protobuf',
    contentEncoding: 'snappy',
    body: snappyCompress(encodeReadResponse(results)),
  };
}

function textError(status: number, message: string): RemoteReadResult {
  return { status, contentType: 'text/plain; charset=utf-8', body: message };
}
