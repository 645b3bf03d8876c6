/**
 * Prometheus HTTP API query client for benchmarks: one POST (form) per query over keep-alive connections to
 * 127.0.0.1, timed until the whole body has arrived (what a client waits for), parsed afterwards.
 * Also a comparison of two answers (labels exact, values within a relative tolerance).
 */
import { Agent, request } from 'node:http';

export interface TimedAnswer {
  status: number;
  /** Request sent → last byte of the body received. */
  ms: number;
  bytes: number;
  body: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

export function postForm(base: string, path: string, params: Record<string, string>, timeoutMs: number): Promise<TimedAnswer> {
  const url = new URL(path, base);
  if (url.hostname !== '127.0.0.1') throw new Error(`bench traffic goes to 127.0.0.1 only, not ${url.hostname}`);
  const body = Buffer.from(new URLSearchParams(params).toString());
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        timeout: timeoutMs,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': String(body.length), 'User-Agent': 'argus-bench/0.1' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (d: Buffer) => {
          chunks.push(d);
          bytes += d.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0, bytes, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Closes the idle keep-alive connections (so the process can exit). */
export function closeQueryClient(): void {
  agent.destroy();
}

export interface MatrixSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

export interface ApiAnswer {
  status: string;
  errorType?: string;
  error?: string;
  data?: { resultType: string; result: unknown };
}

/** The matrix of a query_range answer, or an error text. */
export function matrixOf(a: TimedAnswer): MatrixSeries[] | string {
  let j: ApiAnswer;
  try {
    j = JSON.parse(a.body) as ApiAnswer;
  } catch {
    return `HTTP ${a.status}: not JSON: ${a.body.slice(0, 200)}`;
  }
  if (a.status !== 200 || j.status !== 'success') return `HTTP ${a.status}: ${j.errorType ?? ''} ${j.error ?? a.body.slice(0, 200)}`;
  if (j.data?.resultType !== 'matrix') return `resultType ${j.data?.resultType ?? '?'}, want matrix`;
  return j.data.result as MatrixSeries[];
}

function num(s: string): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}

function close(a: string, b: string, rel: number): boolean {
  if (a === b) return true;
  const x = num(a);
  const y = num(b);
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) && Number.isNaN(y);
  if (!Number.isFinite(x) || !Number.isFinite(y)) return x === y;
  const d = Math.abs(x - y);
  return d <= rel * Math.max(Math.abs(x), Math.abs(y)) || d <= 1e-9;
}

const keyOf = (m: Record<string, string>): string => JSON.stringify(Object.keys(m).sort().map((k) => [k, m[k]]));

/** null when both matrices hold the same series and points (values within `rel`), else the first difference. */
export function firstDifference(a: MatrixSeries[], p: MatrixSeries[], rel = 1e-6): string | null {
  const byKey = new Map(p.map((s) => [keyOf(s.metric), s]));
  if (a.length !== p.length) return `${a.length} series vs ${p.length}`;
  for (const s of a) {
    const o = byKey.get(keyOf(s.metric));
    if (o === undefined) return `series ${keyOf(s.metric)} only in the first answer`;
    if (o.values.length !== s.values.length) return `${keyOf(s.metric)}: ${s.values.length} points vs ${o.values.length}`;
    for (let i = 0; i < s.values.length; i++) {
      const [t1, v1] = s.values[i]!;
      const [t2, v2] = o.values[i]!;
      if (t1 !== t2 || !close(v1, v2, rel)) return `${keyOf(s.metric)} point ${i}: [${t1}, ${v1}] vs [${t2}, ${v2}]`;
    }
  }
  return null;
}
