/**
 * Replays pre-encoded remote-write 1.0 requests: one sequential sender per shard, all shards at once, over
 * keep-alive connections to 127.0.0.1. Every response is checked to be 2xx; failures are counted with the
 * first few reasons kept. Bounded in time: a per-request timeout and an overall deadline after which no new
 * request starts (what was not sent is reported as unsent, so a slow run cannot pass as a complete one).
 */
import { Agent, request } from 'node:http';
import type { EncodedRequest } from './workload.js';

export interface SendOptions {
  /** Full URL, e.g. http://127.0.0.1:PORT/api/v1/write. Must be on 127.0.0.1. */
  url: string;
  shards: readonly (readonly EncodedRequest[])[];
  requestTimeoutMs: number;
  /** performance.now() value after which no new request is started. */
  deadline: number;
}

export interface SendResult {
  requests: number;
  ok: number;
  failed: number;
  unsent: number;
  samplesOk: number;
  /** Up to 5 distinct failure descriptions, with counts. */
  errors: Map<string, number>;
  wallMs: number;
  /** Latency percentiles of the requests that got an answer (ms). */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

const HEADERS = {
  'Content-Type': 'application/x-protobuf',
  'Content-Encoding': 'snappy',
  'User-Agent': 'argus-bench/0.1',
  'X-Prometheus-Remote-Write-Version': '0.1.0',
};

function post(agent: Agent, url: URL, body: Buffer, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, timeout: timeoutMs, headers: { ...HEADERS, 'Content-Length': String(body.length) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (text.length < 1024) text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

export async function sendAll(o: SendOptions): Promise<SendResult> {
  const url = new URL(o.url);
  if (url.hostname !== '127.0.0.1') throw new Error(`bench traffic goes to 127.0.0.1 only, not ${url.hostname}`);
  const agent = new Agent({ keepAlive: true, maxSockets: o.shards.length, maxFreeSockets: o.shards.length });
  const total = o.shards.reduce((n, q) => n + q.length, 0);
  const latencies = new Float64Array(total);
  const r: SendResult = { requests: total, ok: 0, failed: 0, unsent: 0, samplesOk: 0, errors: new Map(), wallMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 };
  let answered = 0;
  const fail = (why: string): void => {
    r.failed++;
    if (r.errors.has(why) || r.errors.size < 5) r.errors.set(why, (r.errors.get(why) ?? 0) + 1);
  };
  const t0 = performance.now();
  await Promise.all(
    o.shards.map(async (queue) => {
      for (let i = 0; i < queue.length; i++) {
        if (performance.now() > o.deadline) {
          r.unsent += queue.length - i;
          return;
        }
        const { body, samples } = queue[i]!;
        const start = performance.now();
        try {
          const res = await post(agent, url, body, o.requestTimeoutMs);
          latencies[answered++] = performance.now() - start;
          if (res.status >= 200 && res.status < 300) {
            r.ok++;
            r.samplesOk += samples;
          } else {
            fail(`HTTP ${res.status}: ${res.text.trim().slice(0, 200)}`);
          }
        } catch (err) {
          fail(`request error: ${(err as Error).message}`);
        }
      }
    }),
  );
  r.wallMs = performance.now() - t0;
  agent.destroy();
  const sorted = latencies.subarray(0, answered).sort();
  r.p50Ms = percentile(sorted, 0.5);
  r.p99Ms = percentile(sorted, 0.99);
  r.maxMs = sorted.length > 0 ? sorted[sorted.length - 1]! : 0;
  return r;
}
