// The scrape benchmark's targets and configuration: the pages must be what a real exporter serves (every
// series parses, exact sizes, counters that only grow, histograms monotone in le), the server must count
// per scraper what it served and gzip only when asked, and the one prometheus.yml must mean the same to
// Argus and to Prometheus (promtool).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { collectEntries, TextParser } from '../../src/exposition/index.js';
import { labelsKey, labelsToObject } from '../../src/model/labels.js';
import { parsePrometheusConfig } from '../../src/config/prometheus.js';
import { TargetPage } from '../../bench/support/scrape-exposition.js';
import { acceptsGzip, scraperKey, serveTargets } from '../../bench/support/scrape-target-server.js';
import { startTargetProcess } from '../../bench/support/scrape-targets.js';
import { benchConfig } from '../../bench/scrape.js';
import { USER_AGENT as ARGUS_SCRAPER_UA } from '../../src/agent/scrape/index.js';
import { requirePeer, startPrometheus } from '../support/peers.js';

const T0 = Date.UTC(2026, 10, 21, 12, 0, 0);

function parse(body: string) {
  const entries = collectEntries(new TextParser(body));
  return { series: entries.filter((e) => e.kind === 'series'), types: entries.filter((e) => e.kind === 'type') };
}

test('TargetPage: exactly the asked number of series, all distinct, every family typed, for any size', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 1, max: 2500 }), (target, n) => {
      const { series, types } = parse(new TargetPage(target, n).render(T0));
      assert.equal(series.length, n);
      assert.equal(new Set(series.map((s) => labelsKey(s.labels))).size, n, 'duplicate series');
      const declared = new Set(types.map((t) => t.name));
      for (const s of series) {
        assert.ok(declared.has(s.family), `${s.name}: family ${s.family} has no TYPE line`);
        assert.ok(Number.isFinite(s.value), `${s.name}: ${s.value}`);
      }
    }),
    { numRuns: 25 },
  );
});

test('TargetPage: counters never decrease, histogram buckets grow with le, values move between scrapes, same time gives the same page', () => {
  const page = new TargetPage(3, 1000);
  const at = (ms: number) => parse(page.render(ms)).series;
  const a = at(T0);
  const b = at(T0 + 15_000);
  assert.equal(page.render(T0), new TargetPage(3, 1000).render(T0), 'two scrapers asking at once must see the same numbers');
  let changed = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    assert.equal(labelsKey(x.labels), labelsKey(y.labels));
    if (x.type === 'counter' || x.name.endsWith('_count') || x.name.endsWith('_bucket') || x.name.endsWith('_total')) {
      assert.ok(y.value >= x.value, `${x.name}${JSON.stringify(labelsToObject(x.labels))} went from ${x.value} to ${y.value}`);
    }
    if (x.value !== y.value) changed++;
  }
  assert.ok(changed > a.length / 2, `only ${changed} of ${a.length} series changed in 15 s`);
  // Buckets of one histogram: cumulative, and the +Inf bucket equals _count.
  const buckets = a.filter((s) => s.name === 'http_request_duration_seconds_bucket' && labelsToObject(s.labels).code === '200' && labelsToObject(s.labels).handler === '/metrics');
  assert.equal(buckets.length, 12);
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i]!.value >= buckets[i - 1]!.value);
  const count = a.find((s) => s.name === 'http_request_duration_seconds_count' && labelsToObject(s.labels).handler === '/metrics' && labelsToObject(s.labels).code === '200');
  assert.equal(buckets.at(-1)!.value, count!.value);
  // Big numbers are printed as Go prints them.
  assert.match(page.render(T0), /^node_memory_MemTotal_bytes \d\.\d+e\+\d\d$/m);
});

test('TargetPage: promtool check metrics parses a page; its only complaints are the camelCase names node exporter has too', (t) => {
  const promtool = requirePeer(t, 'promtool');
  if (promtool === null) return;
  const r = spawnSync(promtool, ['check', 'metrics'], { input: new TargetPage(11, 1000).render(T0), encoding: 'utf8', timeout: 20_000 });
  // 0: clean; 3: lint problems only (1 would be a parse error).
  assert.ok(r.status === 0 || r.status === 3, `promtool exit ${r.status}: ${r.stdout}${r.stderr}`);
  const problems = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '');
  for (const p of problems) assert.match(p, /^node_(memory|netstat)_\w+ metric names should be written in 'snake_case' not 'camelCase'$/);
});

test('acceptsGzip: RFC 9110 codings and q-values; never throws', () => {
  const cases: [string | undefined, boolean][] = [
    ['gzip', true],
    ['GZIP', true],
    ['gzip, deflate, br', true],
    ['identity', false],
    [undefined, false],
    ['', false],
    ['gzip;q=0', false],
    ['gzip; q=0.000', false],
    ['gzip;q=0.5', true],
    ['*', true],
    ['*;q=0', false],
    ['gzip;q=0, *', false],
    ['br;q=1, gzip;q=0.001', true],
    ['x-gzip', false],
  ];
  for (const [h, want] of cases) assert.equal(acceptsGzip(h), want, JSON.stringify(h));
  assert.equal(acceptsGzip(['identity', 'gzip']), true);
  fc.assert(fc.property(fc.string({ maxLength: 80 }), (h) => typeof acceptsGzip(h) === 'boolean'));
  // Appending codings other than gzip and * changes nothing.
  const other = fc.constantFrom('br', 'deflate', 'identity', 'zstd;q=0.2', 'compress;q=0');
  const base = fc.constantFrom('gzip', 'gzip;q=0', '*', '*;q=0', 'identity', 'gzip;q=0.3');
  fc.assert(fc.property(base, fc.array(other, { maxLength: 4 }), (b, rest) => acceptsGzip([b, ...rest].join(', ')) === acceptsGzip(b)));
});

test('scraperKey: the product token of the User-Agent', () => {
  // The benchmark finds each agent's scrapes under these keys.
  assert.equal(scraperKey(ARGUS_SCRAPER_UA), 'Argus-Scraper');
  assert.equal(scraperKey('Prometheus/2.42.0'), 'Prometheus');
  assert.equal(scraperKey('Argus-Scraper'), 'Argus-Scraper');
  assert.equal(scraperKey('curl/8.1 (x86_64)'), 'curl');
  assert.equal(scraperKey(undefined), 'unknown');
  assert.equal(scraperKey('  '), 'unknown');
});

function get(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

test('serveTargets: text format 0.0.4, gzip only when accepted, served samples counted per scraper and target', async () => {
  const h = await serveTargets({ targets: 3, series: 120 });
  try {
    assert.equal(new Set(h.ports).size, 3);
    const plain = await get(h.ports[0]!, '/metrics', { 'User-Agent': 'Prometheus/2.42.0', 'Accept-Encoding': 'identity' });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(parse(plain.body.toString()).series.length, 120);

    const zipped = await get(h.ports[1]!, '/metrics', { 'User-Agent': 'Argus-Scraper', 'Accept-Encoding': 'gzip' });
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.equal(parse(gunzipSync(zipped.body).toString()).series.length, 120);
    const zipped2 = await get(h.ports[2]!, '/metrics', { 'User-Agent': 'Argus-Scraper', 'Accept-Encoding': 'gzip;q=0.8, br' });
    assert.equal(zipped2.headers['content-encoding'], 'gzip');

    const missing = await get(h.ports[0]!, '/other', { 'User-Agent': 'Prometheus/2.42.0' });
    assert.equal(missing.status, 404);

    const ctl = await get(h.controlPort, '/stats', {});
    const st = JSON.parse(ctl.body.toString()) as ReturnType<typeof h.stats>;
    assert.deepEqual(st, h.stats());
    assert.equal(st.scrapers.Prometheus!.scrapes, 1);
    assert.equal(st.scrapers.Prometheus!.started, 1);
    assert.equal(st.scrapers.Prometheus!.samples, 120);
    assert.equal(st.scrapers.Prometheus!.gzipped, 0);
    assert.equal(st.scrapers.Prometheus!.minPerTarget, 0);
    assert.equal(st.scrapers['Argus-Scraper']!.scrapes, 2);
    assert.equal(st.scrapers['Argus-Scraper']!.gzipped, 2);
    assert.equal(st.scrapers.Prometheus!.bytes, plain.body.length);
    assert.equal(st.scrapers['Argus-Scraper']!.bytes, zipped.body.length + zipped2.body.length);
    assert.equal(st.scrapers['Argus-Scraper']!.maxPerTarget, 1);
    assert.equal(st.errors, 1);
    assert.match(st.lastError, /only GET \/metrics is served, not GET \/other/);
  } finally {
    await h.close();
  }
});

test('startTargetProcess: a separate process on its own ports, stats over HTTP, bad arguments named', async () => {
  const p = await startTargetProcess({ targets: 2, series: 10 });
  try {
    assert.notEqual(p.pid, process.pid);
    assert.equal(p.ports.length, 2);
    const r = await get(p.ports[1]!, '/metrics', { 'User-Agent': 'Prometheus/2.42.0' });
    assert.equal(parse(r.body.toString()).series.length, 10);
    const st = await p.stats();
    assert.equal(st.scrapers.Prometheus!.samples, 10);
  } finally {
    await p.stop();
  }
  await assert.rejects(startTargetProcess({ targets: 0, series: 10 }), /--targets=N \(a positive integer\) is required, got 0/);
});

test('benchConfig: Argus and promtool accept the same file, with the same scrape and queue settings', (t) => {
  const text = benchConfig({ agent: 'argus', ports: [9100, 9101], intervalMs: 15_000, receiverUrl: 'http://127.0.0.1:8428' });
  const cfg = parsePrometheusConfig(text, 'bench.yml', { agentMode: true });
  assert.deepEqual(labelsToObject(cfg.global.external_labels), { bench_agent: 'argus' });
  const job = cfg.scrape_configs[0]!;
  assert.equal(job.scrape_interval, 15_000);
  assert.equal(job.scrape_timeout, 10_000);
  const rw = cfg.remote_write[0]!;
  assert.equal(rw.url, 'http://127.0.0.1:8428/api/v1/write');
  assert.equal(rw.queue_config.max_samples_per_send, 2000);
  assert.equal(rw.queue_config.capacity, 10_000);
  assert.equal(rw.queue_config.max_shards, 50);
  assert.equal(rw.metadata_config.send, false);
  // A 5 s interval gets a 5 s timeout (a timeout above the interval is invalid).
  assert.equal(parsePrometheusConfig(benchConfig({ agent: 'x', ports: [1], intervalMs: 5000, receiverUrl: 'http://127.0.0.1:1' }), 'b.yml', { agentMode: true }).scrape_configs[0]!.scrape_timeout, 5000);

  const promtool = requirePeer(t, 'promtool');
  if (promtool === null) return;
  const dir = mkdtempSync(join(tmpdir(), 'argus-bench-config-'));
  try {
    writeFileSync(join(dir, 'prometheus.yml'), text);
    const r = spawnSync(promtool, ['check', 'config', '--agent', join(dir, 'prometheus.yml')], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Prometheus 2.42 in agent mode (startPrometheus agent: true) scrapes the bench targets with the bench config', async (t) => {
  if (requirePeer(t, 'prometheus') === null) return;
  const h = await serveTargets({ targets: 2, series: 30 });
  // A receiver that takes everything, so that shutdown does not wait out a failing queue's flush.
  const sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
  const receiverUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
  const prom = await startPrometheus({ config: benchConfig({ agent: 'prometheus', ports: h.ports, intervalMs: 1000, receiverUrl }), agent: true, args: ['--log.level=error'] });
  try {
    // Prometheus applies discovered targets at most every 5 s, so the first scrape takes a few seconds.
    const deadline = Date.now() + 15_000;
    while ((h.stats().scrapers.Prometheus?.minPerTarget ?? 0) < 1) {
      assert.ok(Date.now() < deadline, `Prometheus agent did not scrape both targets within 15 s:\n${prom.logs()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(h.stats().errors, 0, h.stats().lastError);
    // Agent mode has no TSDB to query.
    const q = await fetch(`${prom.url}/api/v1/query?query=up`);
    assert.equal(q.status, 422);
    const metrics = await (await fetch(`${prom.url}/metrics`)).text();
    assert.match(metrics, /^prometheus_remote_storage_samples_in_total \d/m);
  } finally {
    await prom.stop();
    await h.close();
    sink.closeAllConnections();
    await new Promise<void>((r) => sink.close(() => r()));
  }
});
