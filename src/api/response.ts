/**
 * Response envelopes of the Prometheus HTTP API v1, independent of the HTTP framework: handlers return an
 * `ApiResponse` and the server copies it onto the wire.
 */
import { ApiError, STATUS_OF } from './params.js';
import { goJSON, quote, RawJSON } from './json.js';

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  /** Null for 204 No Content; a stream for results that may be large. */
  body: string | ReadableStream<Uint8Array> | null;
}

const JSON_TYPE = { 'Content-Type': 'application/json' };

/** The most warnings and infos one response carries (Prometheus: 10 each, then "N more ... omitted"). */
const MAX_ANNOTATIONS = 10;

function cap(list: readonly string[], kind: 'warning' | 'info'): string[] {
  const uniq = [...new Set(list)];
  if (uniq.length <= MAX_ANNOTATIONS) return uniq;
  const out = uniq.slice(0, MAX_ANNOTATIONS);
  out.push(`${uniq.length - MAX_ANNOTATIONS} more ${kind} annotations omitted`);
  return out;
}

function annotations(warnings: readonly string[], infos: readonly string[]): string {
  let out = '';
  const w = cap(warnings, 'warning');
  const i = cap(infos, 'info');
  if (w.length > 0) out += ',"warnings":[' + w.map((s) => quote(s)).join(',') + ']';
  if (i.length > 0) out += ',"infos":[' + i.map((s) => quote(s)).join(',') + ']';
  return out;
}

/**
 * `{"status":"success","data":...,"warnings":[...],"infos":[...]}`; warnings and infos only when present.
 * `data` is a plain value (serialised like Go's encoder) or `RawJSON`.
 */
export function success(data: unknown, warnings: readonly string[] = [], infos: readonly string[] = []): ApiResponse {
  const body = '{"status":"success","data":' + goJSON(data) + annotations(warnings, infos) + '}';
  return { status: 200, headers: { ...JSON_TYPE }, body };
}

/** Chunks of at least this many characters go out at once; the event loop runs between them. */
const CHUNK_CHARS = 1 << 16;

/**
 * The same envelope with `data` given as a sequence of JSON text pieces, streamed: a large result is never
 * one string (V8 caps strings at ~512 MiB) and other requests are served while it is written out.
 */
export function successStream(data: Iterable<string>, warnings: readonly string[] = [], infos: readonly string[] = []): ApiResponse {
  const enc = new TextEncoder();
  function* pieces(): Generator<string> {
    yield '{"status":"success","data":';
    yield* data;
    yield annotations(warnings, infos) + '}';
  }
  const it = pieces();
  let first = true;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!first) await new Promise((r) => setImmediate(r));
      first = false;
      let buf = '';
      for (;;) {
        const n = it.next();
        if (n.done) {
          if (buf !== '') controller.enqueue(enc.encode(buf));
          controller.close();
          return;
        }
        buf += n.value;
        if (buf.length >= CHUNK_CHARS) {
          controller.enqueue(enc.encode(buf));
          return;
        }
      }
    },
    cancel() {
      it.return(undefined);
    },
  });
  return { status: 200, headers: { ...JSON_TYPE }, body };
}

/** Prometheus answers 204 when a handler has no data (e.g. query_exemplars for a query without selectors). */
export function noContent(): ApiResponse {
  return { status: 204, headers: {}, body: null };
}

export function failure(err: ApiError): ApiResponse {
  return {
    status: STATUS_OF[err.errorType],
    headers: { ...JSON_TYPE },
    body: '{"status":"error","errorType":' + quote(err.errorType) + ',"error":' + quote(err.message) + '}',
  };
}

/** Runs a handler, turning thrown `ApiError`s into error envelopes (anything else is an internal error). */
export async function handle(fn: () => Promise<ApiResponse> | ApiResponse): Promise<ApiResponse> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApiError) return failure(err);
    return failure(new ApiError('internal', (err as Error)?.message ?? String(err)));
  }
}

export { RawJSON };
