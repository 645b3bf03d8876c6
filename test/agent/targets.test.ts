// Targets: Prometheus's label population and relabeling of discovered targets, scrape URLs, durations,
// offsets, the example configuration turned into targets (no traffic: no loop is started), and
// the /api/v1/targets JSON (against a live local target and a fixed snapshot).
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Hono } from 'hono';
import { staticGroups } from '../../src/agent/discovery/index.js';
import {
  formatPromDuration,
  goQueryEscape,
  offsetSeed,
  populateLabels,
  ScrapeManager,
  scrapeOffset,
  Target,
  targetsFromGroups,
  type TargetsSnapshot,
} from '../../src/agent/scrape/index.js';
import { parsePrometheusConfig, type ScrapeConfig } from '../../src/config/prometheus.js';
import { parseDuration } from '../../src/model/duration.js';
import { labelsFromObject, labelsToObject } from '../../src/model/labels.js';
import {
  globalUrl,
  goRfc3339Nano,
  scrapePoolsHandler,
  targetMetadataApi,
  targetsApi,
  targetsHandler,
  type TargetSource,
} from '../../src/api/targets-api.js';
import { nopLogger } from '../../src/util/log.js';
import { closeServer, listenLocal } from '../support/http-server.js';

function job(yaml: string): ScrapeConfig {
  return parsePrometheusConfig(`scrape_configs:\n  - ${yaml.trim().split('\n').join('\n    ')}\n`).scrape_configs[0]!;
}

const obj = labelsToObject;

describe('target label population', () => {
  it('adds job, interval, timeout, path, scheme and __param_*; instance defaults to the address; __meta_ goes', () => {
    const cfg = job(`job_name: api
scrape_interval: 90s
scrape_timeout: 1m
metrics_path: /m
scheme: https
params: {module: [a, b]}`);
    const p = populateLabels(cfg, labelsFromObject({ __address__: 'h:1', __meta_x: 'y' }), labelsFromObject({ env: 'p', __address__: 'ignored:9' }));
    assert.deepEqual(obj(p.discovered), {
      __address__: 'h:1',
      __meta_x: 'y',
      __metrics_path__: '/m',
      __param_module: 'a',
      __scheme__: 'https',
      __scrape_interval__: '1m30s',
      __scrape_timeout__: '1m',
      env: 'p',
      job: 'api',
    });
    assert.deepEqual(obj(p.labels!), {
      __address__: 'h:1',
      __metrics_path__: '/m',
      __param_module: 'a',
      __scheme__: 'https',
      __scrape_interval__: '1m30s',
      __scrape_timeout__: '1m',
      env: 'p',
      instance: 'h:1',
      job: 'api',
    });
    const t = new Target(p.labels!, p.discovered, cfg.params);
    assert.equal(t.url, 'https://h:1/m?module=a&module=b');
    assert.deepEqual(obj(t.publicLabels), { env: 'p', instance: 'h:1', job: 'api' });
    assert.equal(t.intervalMs, 90_000);
    assert.equal(t.timeoutMs, 60_000);
  });

  it('relabeling can set the address, path, params, interval and instance', () => {
    const cfg = job(`job_name: blackbox
metrics_path: /probe
relabel_configs:
  - {source_labels: [__address__], target_label: __param_target}
  - {source_labels: [__param_target], target_label: instance}
  - {target_label: __address__, replacement: 'exporter:9115'}
  - {target_label: __scrape_interval__, replacement: 30s}
  - {target_label: __scrape_timeout__, replacement: 5s}`);
    const { targets, failures } = targetsFromGroups(cfg, staticGroups([{ targets: ['https://example.org'], labels: labelsFromObject({}) }]));
    assert.deepEqual(failures, []);
    const t = targets[0]!;
    assert.equal(t.url, 'http://exporter:9115/probe?target=https%3A%2F%2Fexample.org');
    assert.deepEqual(obj(t.publicLabels), { instance: 'https://example.org', job: 'blackbox' });
    assert.equal(t.scrapeInterval, '30s');
    assert.equal(t.timeoutMs, 5000);
  });

  it('unusable targets fail with Prometheus messages; dropped ones keep their discovered labels', () => {
    const cfg = job(`job_name: x
relabel_configs:
  - {source_labels: [__address__], regex: 'drop.*', action: drop}
  - {source_labels: [__address__], regex: 'slow.*', target_label: __scrape_timeout__, replacement: 2m}
  - {source_labels: [__address__], regex: 'bad.*', target_label: __scrape_interval__, replacement: soon}
  - {source_labels: [__address__], regex: 'url.*', target_label: __address__, replacement: 'http://h/x'}`);
    const { targets, dropped, failures } = targetsFromGroups(cfg, staticGroups([{ targets: ['ok:1', 'drop:1', 'slow:1', 'bad:1', 'url:1', ''], labels: labelsFromObject({}) }]));
    assert.deepEqual(targets.map((t) => t.url), ['http://ok:1/metrics']);
    assert.deepEqual(dropped.map((d) => obj(d).__address__), ['drop:1']);
    assert.deepEqual(failures, [
      'instance 2 in group 0: scrape timeout cannot be greater than scrape interval ("2m" > "1m")',
      'instance 3 in group 0: error parsing scrape interval: not a valid duration string: "soon"',
      'instance 4 in group 0: "http://h/x" is not a valid hostname',
      'instance 5 in group 0: no address',
    ]);
  });

  it('durations are written as Prometheus writes them', () => {
    const cases: [number, string][] = [
      [0, '0s'], [200, '200ms'], [15_000, '15s'], [90_000, '1m30s'], [3_600_000, '1h'], [90 * 86_400_000, '90d'],
      [14 * 86_400_000, '2w'], [365 * 86_400_000, '1y'], [86_400_000 + 1, '1d1ms'],
    ];
    for (const [ms, text] of cases) assert.equal(formatPromDuration(ms), text, String(ms));
    fc.assert(fc.property(fc.integer({ min: 0, max: 10 * 365 * 86_400_000 }), (ms) => parseDuration(formatPromDuration(ms)) === ms));
  });

  it("URL query escaping is Go's url.QueryEscape", () => {
    assert.equal(goQueryEscape('a b&c=d/é~*'), 'a+b%26c%3Dd%2F%C3%A9~%2A');
    fc.assert(fc.property(fc.string(), (s) => decodeURIComponent(goQueryEscape(s).replace(/\+/g, ' ')) === s.replace(/[\uD800-\uDFFF]/g, '\uFFFD') || /[\uD800-\uDFFF]/.test(s)));
  });
});

describe("the issue's example configuration", () => {
  const HA_PAIR_CONFIG = `
global:
  scrape_interval: 15s
  evaluation_interval: 15s
scrape_configs:
  - job_name: 'my-app'
    static_configs:
      - targets: ['192.168.1.10:8080', '192.168.1.11:8080']
  - job_name: 'node_exporter'
    static_configs:
      - targets: ['192.168.1.20:9100', '192.168.1.21:9100']
remote_write:
  - url: "http://thanos-receive.monitoring.svc.cluster.local:19291/api/v1/receive"
`;

  it('turns into four targets with their labels and URLs (constructed only: nothing is scraped)', () => {
    const cfg = parsePrometheusConfig(HA_PAIR_CONFIG);
    const got = cfg.scrape_configs.flatMap((j) => {
      const r = targetsFromGroups(j, staticGroups(j.static_configs));
      assert.deepEqual(r.failures, []);
      assert.deepEqual(r.dropped, []);
      return r.targets.map((t) => ({ url: t.url, labels: obj(t.publicLabels), interval: t.scrapeInterval, timeout: t.scrapeTimeout }));
    });
    assert.deepEqual(got, [
      { url: 'http://192.168.1.10:8080/metrics', labels: { instance: '192.168.1.10:8080', job: 'my-app' }, interval: '15s', timeout: '10s' },
      { url: 'http://192.168.1.11:8080/metrics', labels: { instance: '192.168.1.11:8080', job: 'my-app' }, interval: '15s', timeout: '10s' },
      { url: 'http://192.168.1.20:9100/metrics', labels: { instance: '192.168.1.20:9100', job: 'node_exporter' }, interval: '15s', timeout: '10s' },
      { url: 'http://192.168.1.21:9100/metrics', labels: { instance: '192.168.1.21:9100', job: 'node_exporter' }, interval: '15s', timeout: '10s' },
    ]);
  });

  it('offsets: stable per target over time, spread across targets, different for the other HA replica', () => {
    const cfg = parsePrometheusConfig(HA_PAIR_CONFIG);
    const targets = cfg.scrape_configs.flatMap((j) => targetsFromGroups(j, staticGroups(j.static_configs)).targets);
    const seedA = offsetSeed(labelsFromObject({ cluster: 'eu', __replica__: 'a' }), 'host-a');
    const seedB = offsetSeed(labelsFromObject({ cluster: 'eu', __replica__: 'b' }), 'host-b');
    const interval = 15_000;
    const phase = (t: Target, seed: bigint, now: number) => (now + scrapeOffset(now, interval, t.hash, seed)) % interval;
    const now = 1_700_000_000_123;
    for (const t of targets) {
      const p = phase(t, seedA, now);
      // Asked at any moment, the next scrape falls on the same phase of the interval, within one interval.
      for (const later of [1, 999, 7_500, 14_999, 15_000, 3_600_000 + 17]) {
        const off = scrapeOffset(now + later, interval, t.hash, seedA);
        assert.ok(off >= 0 && off <= interval);
        assert.equal(phase(t, seedA, now + later), p);
      }
    }
    const phasesA = targets.map((t) => phase(t, seedA, now));
    const phasesB = targets.map((t) => phase(t, seedB, now));
    assert.equal(new Set(phasesA).size, targets.length, `phases ${phasesA}`);
    assert.ok(phasesA.every((p, i) => p !== phasesB[i]), `replica phases ${phasesA} vs ${phasesB}`);
  });
});

describe('/api/v1/targets', () => {
  it("Go's time and global URL formats", () => {
    assert.equal(goRfc3339Nano(0), '0001-01-01T00:00:00Z');
    assert.equal(goRfc3339Nano(1_700_000_000_000), '2023-11-14T22:13:20Z');
    assert.equal(goRfc3339Nano(1_700_000_000_120), '2023-11-14T22:13:20.12Z');
    assert.equal(goRfc3339Nano(1_700_000_000_123.4567), '2023-11-14T22:13:20.123457Z');
    assert.equal(goRfc3339Nano(1_700_000_000_999.9999), '2023-11-14T22:13:21Z');
    const opts = { listenAddress: '0.0.0.0:9090', host: 'prom.example:9090', scheme: 'https' };
    assert.equal(globalUrl('http://127.0.0.1:9090/metrics', opts), 'https://prom.example:9090/metrics');
    assert.equal(globalUrl('http://localhost:9100/metrics?x=1', opts), 'http://prom.example:9100/metrics?x=1');
    assert.equal(globalUrl('http://[::1]:9100/metrics', opts), 'http://prom.example:9100/metrics');
    assert.equal(globalUrl('http://10.0.0.1:9100/metrics', opts), 'http://10.0.0.1:9100/metrics');
  });

  const snapshot: TargetsSnapshot = {
    activeTargets: [
      {
        scrapePool: 'a',
        labels: labelsFromObject({ instance: 'h:1', job: 'a' }),
        discoveredLabels: labelsFromObject({ __address__: 'h:1', job: 'a' }),
        scrapeUrl: 'http://h:1/metrics',
        lastError: '',
        lastScrape: 1_700_000_000_250,
        lastScrapeDurationSeconds: 0.012,
        health: 'up',
        scrapeInterval: '15s',
        scrapeTimeout: '10s',
      },
      {
        scrapePool: 'b',
        labels: labelsFromObject({ instance: 'h:2', job: 'b' }),
        discoveredLabels: labelsFromObject({ __address__: 'h:2', job: 'b' }),
        scrapeUrl: 'http://h:2/metrics',
        lastError: 'server returned HTTP status 500 Internal Server Error',
        lastScrape: 0,
        lastScrapeDurationSeconds: 0,
        health: 'unknown',
        scrapeInterval: '1m',
        scrapeTimeout: '10s',
      },
    ],
    droppedTargets: [{ scrapePool: 'b', discoveredLabels: labelsFromObject({ __address__: 'x:1', job: 'b' }) }],
    droppedTargetCounts: { b: 1, a: 0 },
  };
  const source: TargetSource = { targets: () => snapshot, scrapePools: () => ['a', 'b'] };
  const opts = { listenAddress: ':9090', host: 'argus:9090', scheme: 'http' };

  it('answers in the JSON shape of Prometheus, with the state and scrapePool filters', () => {
    const all = JSON.parse(targetsApi(source, {}, opts).body as string);
    assert.equal(all.status, 'success');
    assert.deepEqual(all.data.activeTargets[0], {
      discoveredLabels: { __address__: 'h:1', job: 'a' },
      labels: { instance: 'h:1', job: 'a' },
      scrapePool: 'a',
      scrapeUrl: 'http://h:1/metrics',
      globalUrl: 'http://h:1/metrics',
      lastError: '',
      lastScrape: '2023-11-14T22:13:20.25Z',
      lastScrapeDuration: 0.012,
      health: 'up',
      scrapeInterval: '15s',
      scrapeTimeout: '10s',
    });
    assert.equal(all.data.activeTargets[1].lastScrape, '0001-01-01T00:00:00Z');
    assert.deepEqual(all.data.droppedTargets, [{ discoveredLabels: { __address__: 'x:1', job: 'b' }, scrapePool: 'b' }]);
    // Go sorts map keys.
    assert.match(targetsApi(source, {}, opts).body as string, /"droppedTargetCounts":\{"a":0,"b":1\}\}\}$/);

    const active = JSON.parse(targetsApi(source, { state: 'Active' }, opts).body as string).data;
    assert.equal(active.activeTargets.length, 2);
    assert.deepEqual(active.droppedTargets, []);
    assert.equal(active.droppedTargetCounts, null);
    const dropped = JSON.parse(targetsApi(source, { state: 'dropped' }, opts).body as string).data;
    assert.deepEqual(dropped.activeTargets, []);
    assert.equal(dropped.droppedTargets.length, 1);
    const pool = JSON.parse(targetsApi(source, { scrapePool: 'b' }, opts).body as string).data;
    assert.deepEqual(pool.activeTargets.map((t: { scrapePool: string }) => t.scrapePool), ['b']);
    const unknown = JSON.parse(targetsApi(source, { state: 'nonsense' }, opts).body as string).data;
    assert.deepEqual([unknown.activeTargets, unknown.droppedTargets], [[], []]);
  });

  it('serves a live manager through the Hono handlers: health, lastScrape, scrape pools, metadata', async () => {
    const srv = http.createServer((_req, res) => {
      res.setHeader('Content-Type', 'text/plain');
      res.end('# HELP temp Temperature.\n# TYPE temp gauge\ntemp 21\n');
    });
    const addr = `127.0.0.1:${await listenLocal(srv)}`;
    const m = new ScrapeManager({ appendable: { appender: () => ({ append: () => 1, commit: async () => undefined, rollback: () => undefined }) }, logger: nopLogger });
    try {
      await m.applyConfig(parsePrometheusConfig(`scrape_configs:\n  - job_name: live\n    scrape_interval: 200ms\n    static_configs: [{targets: ['${addr}']}]\n`));
      const app = new Hono();
      app.get('/api/v1/targets', targetsHandler(m, { listenAddress: ':1', host: 'argus.example:1', scheme: 'http' }));
      app.get('/api/v1/scrape_pools', scrapePoolsHandler(m));
      const before = (await (await app.request('/api/v1/targets?state=active')).json()) as { data: { activeTargets: { health: string }[] } };
      assert.equal(before.data.activeTargets[0].health, 'unknown');
      const started = Date.now();
      const deadline = started + 2000;
      let t: { health: string; lastScrape: string; lastScrapeDuration: number; globalUrl: string; labels: Record<string, string> } | undefined;
      while (Date.now() < deadline) {
        const res = await app.request('/api/v1/targets');
        assert.equal(res.headers.get('content-type'), 'application/json');
        t = ((await res.json()) as { data: { activeTargets: NonNullable<typeof t>[] } }).data.activeTargets[0];
        if (t!.health === 'up') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(t!.health, 'up');
      assert.match(t!.lastScrape, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/);
      assert.ok(Math.abs(Date.parse(t!.lastScrape) - started) < 2000);
      assert.ok(t!.lastScrapeDuration > 0 && t!.lastScrapeDuration < 1);
      assert.equal(t!.globalUrl, `http://argus.example:${addr.split(':')[1]}/metrics`);
      assert.deepEqual(t!.labels, { instance: addr, job: 'live' });
      assert.deepEqual(((await (await app.request('/api/v1/scrape_pools')).json()) as { data: unknown }).data, { scrapePools: ['live'] });
      const md = JSON.parse(targetMetadataApi(m, { matchTarget: '{job="live"}', metric: 'temp' }).body as string).data;
      assert.deepEqual(md, [{ target: { instance: addr, job: 'live' }, type: 'gauge', help: 'Temperature.', unit: '' }]);
      assert.deepEqual(JSON.parse(targetMetadataApi(m, { matchTarget: '{job="other"}' }).body as string).data, []);
      assert.throws(() => targetMetadataApi(m, { matchTarget: '{job=' }), /invalid parameter "match_target"/);
    } finally {
      await m.stop();
      await closeServer(srv);
    }
  });
});
