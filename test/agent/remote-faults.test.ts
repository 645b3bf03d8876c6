/**
 * Fault injection against a tiny scripted HTTP receiver on 127.0.0.1: what is retried (5xx, 429, network
 * errors, timeouts) and how long the queue waits (backoff, Retry-After in seconds and as a date), what is
 * dropped (other 4xx: counted and logged with the body), and what each request carries (protocol headers,
 * custom headers, basic auth from a file, bearer authorization, TLS with a private CA).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { decodeWriteV1, decodedLabels, snappyUncompress } from '../../src/codec/index.js';
import { labelsFromObject, labelsToString } from '../../src/model/labels.js';
import { closeServer, listenLocal } from '../support/http-server.js';
import { captureLogger, openAgent, rwConfigs, waitFor, type Agent } from './remote-support.js';

type Plan = { status: number; headers?: Record<string, string>; body?: string } | 'hang' | 'reset';

interface Seen {
  at: number;
  headers: IncomingMessage['headers'];
  samples: number;
  series: string[];
}

/** A receiver whose n-th answer is `plan(n)`; it decodes every body (RW 1.0) it gets. */
class Scripted {
  server!: Server;
  seen: Seen[] = [];
  /** Timestamps received per series, in arrival order. */
  times = new Map<string, number[]>();
  private hung: ServerResponse[] = [];
  constructor(readonly plan: (n: number) => Plan) {}

  async start(tls?: { key: string; cert: string }): Promise<string> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        const n = this.seen.length;
        const d = decodeWriteV1(snappyUncompress(new Uint8Array(Buffer.concat(parts)), 1 << 26));
        const series: string[] = [];
        for (let i = 0; i < d.seriesCount; i++) {
          const k = labelsToString(decodedLabels(d, i));
          series.push(k);
          let l = this.times.get(k);
          if (l === undefined) this.times.set(k, (l = []));
          for (let j = d.sampleStart[i]!; j < d.sampleStart[i + 1]!; j++) l.push(d.timestamps[j]!);
        }
        this.seen.push({ at: performance.now(), headers: req.headers, samples: d.timestamps.length, series });
        const p = this.plan(n);
        if (p === 'hang') return void this.hung.push(res);
        if (p === 'reset') return void req.socket.destroy();
        res.writeHead(p.status, p.headers ?? {});
        res.end(p.body ?? '');
      });
    };
    this.server = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
    const port = await listenLocal(this.server);
    return `${tls ? 'https' : 'http'}://127.0.0.1:${port}/api/v1/push`;
  }

  get samples(): number {
    return this.seen.reduce((n, s) => n + s.samples, 0);
  }

  async stop(): Promise<void> {
    for (const r of this.hung) r.destroy();
    await closeServer(this.server);
  }
}

const ok: Plan = { status: 204 };

async function withQueue(
  plan: (n: number) => Plan,
  queueYaml: (url: string) => string,
  body: (ctx: { srv: Scripted; agent: Agent; lines: string[]; send: (n: number) => Promise<void> }) => Promise<void>,
  tls?: { key: string; cert: string },
): Promise<void> {
  const srv = new Scripted(plan);
  const url = await srv.start(tls);
  const dir = await mkdtemp(join(tmpdir(), 'argus-faults-'));
  const { logger, lines } = captureLogger();
  const agent = await openAgent(dir, { logger });
  let k = 0;
  const t0 = Date.now() - 60_000;
  const send = async (n: number) => {
    const app = agent.storage.appender();
    for (let i = 0; i < n; i++) app.append(0, labelsFromObject({ __name__: 'fault_test', idx: String(i) }), t0 + k * 1000, k);
    k++;
    await app.commit();
  };
  try {
    await agent.manager.applyConfig(rwConfigs(queueYaml(url)), []);
    await body({ srv, agent, lines, send });
  } finally {
    await agent.close();
    await srv.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const Q = (extra = '') => (url: string) =>
  `  - url: ${url}\n    name: q\n    queue_config: { batch_send_deadline: 20ms, min_backoff: 50ms, max_backoff: 400ms, max_samples_per_send: 10${extra} }\n`;

test('5xx answers are retried with exponential backoff (Retry-Attempt counted) until accepted', async () => {
  await withQueue((n) => (n < 3 ? { status: [500, 502, 503][n]!, body: 'busy' } : ok), Q(), async ({ srv, agent, send }) => {
    await send(10);
    const q = agent.manager.queue('q')!;
    await waitFor('accepted', () => q.metrics.samplesSent === 10);
    assert.equal(srv.seen.length, 4);
    assert.deepEqual(srv.seen.map((s) => s.headers['retry-attempt']), [undefined, '1', '2', '3']);
    const gaps = srv.seen.slice(1).map((s, i) => s.at - srv.seen[i]!.at);
    // 50, 100, 200 ms (timer slack allowed below, generous above).
    assert.ok(gaps[0]! >= 45 && gaps[1]! >= 95 && gaps[2]! >= 190, `backoff gaps ${gaps.map(Math.round).join(',')}`);
    assert.ok(gaps[2]! > gaps[0]!, 'backoff grows');
    assert.equal(q.metrics.samplesRetried, 30);
    assert.equal(q.metrics.samplesFailed, 0);
  });
});

test('429 with Retry-After in seconds is honoured instead of the backoff', async () => {
  await withQueue((n) => (n === 0 ? { status: 429, headers: { 'Retry-After': '1' }, body: 'slow down' } : ok), Q(), async ({ srv, agent, send }) => {
    await send(5);
    const q = agent.manager.queue('q')!;
    await waitFor('accepted', () => q.metrics.samplesSent === 5);
    const gap = srv.seen[1]!.at - srv.seen[0]!.at;
    assert.ok(gap >= 950 && gap < 3000, `waited ${Math.round(gap)} ms`);
    assert.equal(q.metrics.samplesRetried, 5);
  });
});

test('503 with Retry-After as an HTTP date is honoured', async () => {
  // HTTP dates have whole seconds: ask for 2 s ahead, so the wait is between 1 and 2 s.
  const plan = (n: number): Plan => (n === 0 ? { status: 503, headers: { 'Retry-After': new Date(Date.now() + 2000).toUTCString() } } : ok);
  await withQueue(plan, Q(), async ({ srv, agent, send }) => {
    await send(5);
    await waitFor('accepted', () => agent.manager.queue('q')!.metrics.samplesSent === 5);
    const gap = srv.seen[1]!.at - srv.seen[0]!.at;
    assert.ok(gap >= 900 && gap < 2600, `waited ${Math.round(gap)} ms`);
  });
});

test('400 drops the batch: counted in samplesFailed and logged with the response body; later batches are sent', async () => {
  await withQueue((n) => (n === 0 ? { status: 400, body: 'series {idx="3"} has an invalid label' } : ok), Q(), async ({ srv, agent, lines, send }) => {
    const q = agent.manager.queue('q')!;
    await send(10);
    await waitFor('dropped', () => q.metrics.samplesFailed === 10);
    await send(10);
    await waitFor('second batch sent', () => q.metrics.samplesSent === 10);
    assert.equal(srv.seen.length, 2, 'the rejected batch was not retried');
    const line = lines.find((l) => l.includes('rejected a batch'));
    assert.ok(line, lines.join(''));
    assert.match(line, /status=400/);
    assert.match(line, /queue=q/);
    assert.match(line, /has an invalid label/);
    assert.match(line, /samples=10/);
    // A dropped batch still moves the position on (nothing to resend after restart).
    await waitFor('position at the end', () => q.position.offset === agent.storage.committed().offset);
  });
});

test('429 with retry_on_http_429: false is dropped like other 4xx', async () => {
  await withQueue(() => ({ status: 429, body: 'limit' }), Q(', retry_on_http_429: false'), async ({ srv, agent, send }) => {
    await send(4);
    await waitFor('dropped', () => agent.manager.queue('q')!.metrics.samplesFailed === 4);
    assert.equal(srv.seen.length, 1);
  });
});

test('network errors and remote_timeout are retried', async () => {
  const yaml = (url: string) => Q()(url) + '    remote_timeout: 300ms\n';
  await withQueue((n) => (n === 0 ? 'reset' : n === 1 ? 'hang' : ok), yaml, async ({ srv, agent, lines, send }) => {
    await send(5);
    const q = agent.manager.queue('q')!;
    await waitFor('accepted', () => q.metrics.samplesSent === 5);
    assert.equal(srv.seen.length, 3);
    const waited = srv.seen[2]!.at - srv.seen[1]!.at;
    assert.ok(waited >= 300, `the hung request was given up after remote_timeout (${Math.round(waited)} ms)`);
    assert.equal(q.metrics.samplesRetried, 10);
    assert.ok(lines.some((l) => l.includes('retrying')));
    assert.ok(lines.some((l) => l.includes('accepts data again')));
  });
});

test('requests carry the protocol headers, custom headers and basic_auth (password_file); authorization sends its type and credentials', async (t: TestContext) => {
  const dir = await mkdtemp(join(tmpdir(), 'argus-auth-'));
  try {
    const pw = join(dir, 'pw');
    await writeFile(pw, 's3cr3t\n');
    const yaml = (url: string) => Q()(url) + `    headers: { X-Scope-OrgID: team-a }\n    basic_auth: { username: agent, password_file: ${pw} }\n`;
    await withQueue(() => ok, yaml, async ({ srv, agent, send }) => {
      await send(3);
      await waitFor('sent', () => agent.manager.queue('q')!.metrics.samplesSent === 3);
      const h = srv.seen[0]!.headers;
      assert.equal(h['content-encoding'], 'snappy');
      assert.equal(h['content-type'], 'application/x-protobuf');
      assert.equal(h['x-prometheus-remote-write-version'], '0.1.0');
      assert.match(h['user-agent'] ?? '', /^Argus/);
      assert.equal(h['x-scope-orgid'], 'team-a');
      assert.equal(h['authorization'], 'Basic ' + Buffer.from('agent:s3cr3t').toString('base64'));
    });
    const bearer = (url: string) => Q()(url) + `    authorization: { credentials: tok123 }\n`;
    await withQueue(() => ok, bearer, async ({ srv, agent, send }) => {
      await send(1);
      await waitFor('sent', () => agent.manager.queue('q')!.metrics.samplesSent === 1);
      assert.equal(srv.seen[0]!.headers['authorization'], 'Bearer tok123');
    });
    t.diagnostic('basic auth, bearer and custom headers checked');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('https: tls_config ca_file and server_name verify a private CA; an unknown CA is refused and retried', async (t: TestContext) => {
  const dir = await mkdtemp(join(tmpdir(), 'argus-tls-'));
  try {
    try {
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-subj', '/CN=argus-receiver', '-addext', 'subjectAltName=DNS:argus-receiver',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      ], { stdio: 'ignore' });
    } catch (err) {
      t.skip(`openssl is not available to make a test certificate: ${(err as Error).message}`);
      return;
    }
    const { readFileSync } = await import('node:fs');
    const tls = { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
    const good = (url: string) => Q()(url) + `    tls_config: { ca_file: ${join(dir, 'cert.pem')}, server_name: argus-receiver, min_version: TLS12 }\n`;
    await withQueue(() => ok, good, async ({ agent, send }) => {
      await send(2);
      await waitFor('sent over TLS', () => agent.manager.queue('q')!.metrics.samplesSent === 2);
    }, tls);
    await withQueue(() => ok, Q(), async ({ srv, agent, lines, send }) => {
      await send(2);
      await waitFor('refused and retried', () => agent.manager.queue('q')!.metrics.samplesRetried >= 2);
      assert.equal(srv.seen.length, 0);
      assert.ok(lines.some((l) => /certificate/i.test(l)), 'the log says why');
    }, tls);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('unsupported auth (oauth2) is refused at applyConfig with the queue and setting named', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'argus-oauth-'));
  const agent = await openAgent(dir);
  try {
    const cfg = rwConfigs(`  - url: http://127.0.0.1:9/api/v1/push\n    name: o\n    oauth2: { client_id: x, client_secret: y, token_url: 'http://127.0.0.1:9/token' }\n`);
    await assert.rejects(agent.manager.applyConfig(cfg, []), /o: remote_write http:\/\/127\.0\.0\.1:9\/api\/v1\/push: oauth2 is not supported/);
    assert.equal(agent.manager.queues().length, 0);
  } finally {
    await agent.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('dynamic sharding: a slow receiver and a steady load make the queue add shards (within max_shards), every sample arrives once and in order', async (t: TestContext) => {
  // Each request takes ~25 ms: one shard moves ~400 samples/s at 10 per batch; the load is ~2000/s.
  const slow = (url: string) =>
    `  - url: ${url}\n    name: q\n    queue_config: { batch_send_deadline: 20ms, max_samples_per_send: 10, capacity: 200, min_shards: 1, max_shards: 6 }\n`;
  const srv = new Scripted(() => ok);
  const url = await srv.start();
  const slowHandler = srv.server.listeners('request')[0] as (req: IncomingMessage, res: ServerResponse) => void;
  srv.server.removeAllListeners('request');
  srv.server.on('request', (req, res) => setTimeout(() => slowHandler(req, res), 25));
  const dir = await mkdtemp(join(tmpdir(), 'argus-reshard-'));
  const agent = await openAgent(dir, { reshardIntervalMs: 250 });
  try {
    await agent.manager.applyConfig(rwConfigs(slow(url)), []);
    const q = agent.manager.queue('q')!;
    const t0 = Date.now() - 60_000;
    let total = 0;
    let most = 0;
    for (let k = 0; k < 30; k++) {
      most = Math.max(most, q.shardCount);
      const app = agent.storage.appender();
      for (let i = 0; i < 100; i++) app.append(0, labelsFromObject({ __name__: 'shard_test', idx: String(i) }), t0 + k * 100, k);
      await app.commit();
      total += 100;
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitFor('all sent', () => q.metrics.samplesSent === total, 15_000);
    assert.ok(q.metrics.reshards >= 1 && q.metrics.reshards < 10, `reshards ${q.metrics.reshards}`);
    assert.equal(srv.samples, total, 'each sample sent once');
    assert.ok(most > 1 && most <= 6, `shards grew to ${most}`);
    // Per series, every timestamp arrived once and in order, although series moved between shards.
    const want = Array.from({ length: 30 }, (_, k) => t0 + k * 100);
    assert.equal(srv.times.size, 100);
    for (const [k, ts] of srv.times) assert.deepEqual(ts, want, k);
    t.diagnostic(`shards grew to ${most} (reshards ${q.metrics.reshards}); ${srv.seen.length} requests for ${total} samples`);
  } finally {
    await agent.close();
    await srv.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
