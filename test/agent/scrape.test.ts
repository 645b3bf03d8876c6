// One target's scrape, driven directly (no timers): real HTTP(S) targets on 127.0.0.1, a tiny recording
// Appendable, and the behaviours Prometheus users rely on — report series, cached refs, honor_labels,
// honor_timestamps, metric relabeling, every limit, timeouts, bad expositions, staleness, HTTP features.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { staticGroups } from '../../src/agent/discovery/index.js';
import {
  appendScrape,
  loopSettings,
  newScrapeMetrics,
  ScrapeCache,
  ScrapeClient,
  ScrapeLoop,
  targetsFromGroups,
} from '../../src/agent/scrape/index.js';
import { parsePrometheusConfig, type ScrapeConfig } from '../../src/config/prometheus.js';
import { SCRAPE_ACCEPT_HEADER } from '../../src/exposition/index.js';
import { labelsToString } from '../../src/model/labels.js';
import { isStaleNaN } from '../../src/model/value.js';
import { StorageError } from '../../src/storage/errors.js';
import type { Appendable, Appender, SeriesRef } from '../../src/storage/interface.js';
import { createLogger } from '../../src/util/log.js';
import { closeServer, listenLocal } from '../support/http-server.js';

// --- a recording Appendable ----------------------------------------------------------------------

interface Rec {
  series: string;
  t: number;
  v: number;
  stale: boolean;
}

/**
 * Records committed samples; refs per label set; rejects out-of-order and conflicting duplicate samples
 * like a TSDB head. Values go through a Float64Array so stale-marker NaN bits survive.
 */
class Recorder implements Appendable {
  committed: Rec[] = [];
  /** The ref each append call passed in, by series. */
  refsPassed: { series: string; ref: SeriesRef }[] = [];
  private refs = new Map<string, number>();
  private last = new Map<string, number>();
  commits = 0;
  rollbacks = 0;

  appender(): Appender {
    const staged: Rec[] = [];
    const vals = new Float64Array(1);
    let done = false;
    return {
      append: (ref, labels, t, v) => {
        const s = labelsToString(labels);
        this.refsPassed.push({ series: s, ref });
        const lastT = this.last.get(s) ?? -Infinity;
        const inBatch = staged.findLast?.((r) => r.series === s);
        const newest = Math.max(lastT, inBatch?.t ?? -Infinity);
        if (t < newest) throw new StorageError('out_of_order', `out of order sample at ${t}`);
        if (t === newest && inBatch && !(Object.is(inBatch.v, v) || (isNaN(v) && inBatch.stale === isStaleNaN(v)))) {
          throw new StorageError('duplicate_timestamp', 'duplicate sample for timestamp');
        }
        vals[0] = v;
        staged.push({ series: s, t, v: vals[0], stale: isStaleNaN(vals[0]) });
        let r = this.refs.get(s);
        if (r === undefined) this.refs.set(s, (r = this.refs.size + 1));
        return r;
      },
      commit: async () => {
        assert.equal(done, false);
        done = true;
        this.commits++;
        for (const r of staged) {
          this.committed.push(r);
          this.last.set(r.series, Math.max(this.last.get(r.series) ?? -Infinity, r.t));
        }
      },
      rollback: () => {
        done = true;
        this.rollbacks++;
      },
    };
  }

  at(t: number): Map<string, Rec> {
    return new Map(this.committed.filter((r) => r.t === t).map((r) => [r.series, r]));
  }
  value(series: string, t: number): number | undefined {
    return this.committed.find((r) => r.series === series && r.t === t)?.v;
  }
  /** Series names (without labels) committed at `t`. */
  names(t: number): string[] {
    return [...this.at(t).keys()].map((s) => s.replace(/\{.*$/, '')).sort();
  }
}

// --- local targets -------------------------------------------------------------------------------

interface Served {
  port: number;
  addr: string;
  hits: number;
  lastHeaders: http.IncomingHttpHeaders;
  lastUrl: string;
  close(): Promise<void>;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function serve(handler: Handler, tls?: { key: string; cert: string; ca?: string; requestCert?: boolean }): Promise<Served> {
  const s: Served = { port: 0, addr: '', hits: 0, lastHeaders: {}, lastUrl: '', close: async () => undefined };
  const wrapped: Handler = (req, res) => {
    s.hits++;
    s.lastHeaders = req.headers;
    s.lastUrl = req.url ?? '';
    handler(req, res);
  };
  const srv = tls ? https.createServer(tls, wrapped) : http.createServer(wrapped);
  s.port = await listenLocal(srv);
  s.addr = `127.0.0.1:${s.port}`;
  s.close = () => closeServer(srv);
  return s;
}

/** A target serving `body()` with `type` as Content-Type. */
function exposition(body: () => string, type = 'text/plain; version=0.0.4; charset=utf-8'): Handler {
  return (_req, res) => {
    res.setHeader('Content-Type', type);
    res.end(body());
  };
}

// --- scrape set-up ---------------------------------------------------------------------------------

function job(yaml: string): ScrapeConfig {
  return parsePrometheusConfig(`scrape_configs:\n  - ${yaml.trim().split('\n').join('\n    ')}\n`).scrape_configs[0]!;
}

interface Setup {
  loop: ScrapeLoop;
  rec: Recorder;
  cfg: ScrapeConfig;
  client: ScrapeClient;
  metrics: ReturnType<typeof newScrapeMetrics>;
  logs: string[];
}

function setup(addr: string, extra = '', timeout = '2s'): Setup {
  const cfg = job(`job_name: t
scrape_interval: 10s
scrape_timeout: ${timeout}
static_configs: [{targets: ['${addr}'], labels: {env: prod}}]
${extra}`);
  const { targets, failures } = targetsFromGroups(cfg, staticGroups(cfg.static_configs));
  assert.deepEqual(failures, []);
  const rec = new Recorder();
  const client = new ScrapeClient(cfg);
  const metrics = newScrapeMetrics();
  const logs: string[] = [];
  const loop = new ScrapeLoop(targets[0]!, loopSettings(cfg), {
    appendable: rec,
    client,
    logger: createLogger('debug', {}, (l) => logs.push(l)),
    metrics,
    now: Date.now,
    seed: 0n,
    shutdown: new AbortController().signal,
  });
  return { loop, rec, cfg, client, metrics, logs };
}

const T0 = 1_700_000_000_000;
const up = (addr: string, extra = ''): string => `up{env="prod", instance="${addr}", job="t"${extra}}`;
const ser = (name: string, addr: string, labels = ''): string => `${name}{${labels}${labels ? ', ' : ''}env="prod", instance="${addr}", job="t"}`;

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function target(handler: Handler): Promise<Served> {
  const s = await serve(handler);
  cleanups.push(() => s.close());
  return s;
}

// -------------------------------------------------------------------------------------------------

describe('scrape: text and OpenMetrics targets', () => {
  it('appends samples with the target labels at the scrape time, plus the report series', async () => {
    const s = await target(exposition(() => '# HELP rq Requests.\n# TYPE rq counter\nrq{code="200"} 10\nrq{code="500"} 2\ntemp 21.5\n'));
    const { loop, rec, client } = setup(s.addr);
    await loop.scrapeOnce(T0);
    client.close();
    const got = rec.at(T0);
    assert.equal(got.get(ser('rq', s.addr, 'code="200"'))?.v, 10);
    assert.equal(got.get(ser('rq', s.addr, 'code="500"'))?.v, 2);
    assert.equal(got.get(ser('temp', s.addr))?.v, 21.5);
    assert.equal(got.get(up(s.addr))?.v, 1);
    assert.equal(rec.value(ser('scrape_samples_scraped', s.addr), T0), 3);
    assert.equal(rec.value(ser('scrape_samples_post_metric_relabeling', s.addr), T0), 3);
    assert.equal(rec.value(ser('scrape_series_added', s.addr), T0), 3);
    const dur = rec.value(ser('scrape_duration_seconds', s.addr), T0)!;
    assert.ok(dur > 0 && dur < 2, `duration ${dur}`);
    assert.equal(got.size, 8);
    assert.equal(rec.commits, 1);
    // What the target saw: Prometheus 3's Accept header for the default protocols, gzip, the timeout.
    assert.equal(
      s.lastHeaders.accept,
      'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,' +
        'text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2',
    );
    assert.equal(s.lastHeaders['accept-encoding'], 'gzip');
    assert.equal(s.lastHeaders['x-prometheus-scrape-timeout-seconds'], '2');
    assert.equal(s.lastUrl, '/metrics');
    assert.equal(loop.target.health, 'up');
    assert.equal(loop.target.lastError, '');
    assert.deepEqual(loop.cache.metadata.get('rq'), { family: 'rq', type: 'counter', help: 'Requests.', unit: '', lastIter: 0 });
  });

  it('scrape_protocols restricted to 0.0.4 sends the Accept header of Prometheus 2.x order', async () => {
    const s = await target(exposition(() => 'a 1\n'));
    const { loop, client } = setup(s.addr, 'scrape_protocols: [OpenMetricsText1.0.0, OpenMetricsText0.0.1, PrometheusText0.0.4]');
    await loop.scrapeOnce(T0);
    client.close();
    // Same media types and order as 2.42's fixed header (weights are counted Prometheus 3's way).
    assert.equal(
      s.lastHeaders.accept!.replace(/;escaping=allow-utf-8/g, '').replace(/;q=0\.\d/g, ''),
      SCRAPE_ACCEPT_HEADER.replace(/;q=0\.\d+/g, ''),
    );
  });

  it('steady state: the second scrape appends every series with the ref the first one got', async () => {
    let n = 0;
    const s = await target(exposition(() => `a{x="1"} ${++n}\na{x="2"} ${n}\nb ${n}\n`));
    const { loop, rec, client } = setup(s.addr);
    await loop.scrapeOnce(T0);
    const firstRefs = rec.refsPassed.length;
    await loop.scrapeOnce(T0 + 10_000);
    client.close();
    const second = rec.refsPassed.slice(firstRefs);
    assert.equal(second.length, 3 + 5);
    assert.ok(second.every((c) => c.ref !== 0), `refs passed: ${JSON.stringify(second)}`);
    assert.equal(rec.value(ser('scrape_series_added', s.addr), T0 + 10_000), 0);
    assert.equal(rec.value(ser('b', s.addr), T0 + 10_000), 2);
  });

  it('OpenMetrics: parsed by Content-Type, _created kept as a series, a missing # EOF fails the scrape', async () => {
    let body = '# TYPE jobs counter\n# HELP jobs Jobs run.\njobs_total 7 1700000000.5\njobs_created 1600000000\n# EOF\n';
    const s = await target(exposition(() => body, 'application/openmetrics-text; version=1.0.0; charset=utf-8'));
    const { loop, rec, client } = setup(s.addr);
    await loop.scrapeOnce(T0);
    // honor_timestamps (default): the exposed timestamp is kept; such series are not tracked for staleness.
    assert.equal(rec.value(ser('jobs_total', s.addr), 1_700_000_000_500), 7);
    assert.equal(rec.value(ser('jobs_created', s.addr), T0), 1_600_000_000);
    assert.equal(rec.value(up(s.addr), T0), 1);
    body = '# TYPE jobs counter\njobs_total 8\n';
    await loop.scrapeOnce(T0 + 10_000);
    client.close();
    assert.equal(rec.value(up(s.addr), T0 + 10_000), 0);
    assert.match(loop.target.lastError, /^line 3: /);
    assert.match(loop.target.lastError, /EOF/);
    // jobs_created had no timestamp, so the failed scrape ends it; jobs_total (explicit timestamp) is left alone.
    assert.equal(rec.at(T0 + 10_000).get(ser('jobs_created', s.addr))?.stale, true);
    assert.equal(rec.at(T0 + 10_000).has(ser('jobs_total', s.addr)), false);
  });
});

describe('scrape: labels and timestamps', () => {
  const body = 'm{job="exposed", instance="i0", exported_job="taken", x="1"} 1\n';

  it('honor_labels false: target labels win, conflicting exposed values move to exported_*', async () => {
    const s = await target(exposition(() => body));
    const { loop, rec, client } = setup(s.addr);
    await loop.scrapeOnce(T0);
    client.close();
    const names = [...rec.at(T0).keys()].filter((k) => k.startsWith('m{'));
    assert.deepEqual(names, [
      `m{env="prod", exported_exported_job="exposed", exported_instance="i0", exported_job="taken", instance="${s.addr}", job="t", x="1"}`,
    ]);
  });

  it('honor_labels true: exposed values win, target labels fill the gaps', async () => {
    const s = await target(exposition(() => body));
    const { loop, rec, client } = setup(s.addr, 'honor_labels: true');
    await loop.scrapeOnce(T0);
    client.close();
    const names = [...rec.at(T0).keys()].filter((k) => k.startsWith('m{'));
    assert.deepEqual(names, ['m{env="prod", exported_job="taken", instance="i0", job="exposed", x="1"}']);
    // Report series always carry the target's labels.
    assert.equal(rec.value(up(s.addr), T0), 1);
  });

  it('honor_timestamps false stamps every sample with the scrape time', async () => {
    const s = await target(exposition(() => 'a 1 1600000000000\nb 2\n'));
    const { loop, rec, client } = setup(s.addr, 'honor_timestamps: false');
    await loop.scrapeOnce(T0);
    client.close();
    assert.equal(rec.value(ser('a', s.addr), T0), 1);
    assert.equal(rec.value(ser('b', s.addr), T0), 2);
  });

  it('metric_relabel_configs drop series and rewrite labels; the post-relabel count reflects it', async () => {
    const s = await target(exposition(() => 'go_gc 1\nhttp_requests{path="/a",method="GET"} 5\nhttp_requests{path="/b",method="GET"} 6\n'));
    const { loop, rec, client } = setup(
      s.addr,
      `metric_relabel_configs:
  - {source_labels: [__name__], regex: 'go_.*', action: drop}
  - {source_labels: [path], regex: '/(.*)', target_label: route, replacement: 'r_$1'}
  - {action: labeldrop, regex: method}`,
    );
    await loop.scrapeOnce(T0);
    await loop.scrapeOnce(T0 + 10_000); // the dropped series is now a cached drop
    client.close();
    for (const t of [T0, T0 + 10_000]) {
      assert.deepEqual(rec.names(t), ['http_requests', 'http_requests', 'scrape_duration_seconds', 'scrape_samples_post_metric_relabeling', 'scrape_samples_scraped', 'scrape_series_added', 'up']);
      assert.equal(rec.value(ser('scrape_samples_scraped', s.addr), t), 3);
      assert.equal(rec.value(ser('scrape_samples_post_metric_relabeling', s.addr), t), 2);
    }
    assert.equal(rec.value(`http_requests{env="prod", instance="${s.addr}", job="t", path="/a", route="r_a"}`, T0), 5);
  });
});

describe('scrape: limits fail the whole scrape', () => {
  async function limited(extra: string, bodyText: string) {
    let body = 'ok 1\n';
    const s = await target(exposition(() => body));
    const st = setup(s.addr, extra);
    await st.loop.scrapeOnce(T0);
    body = bodyText;
    await st.loop.scrapeOnce(T0 + 10_000);
    st.client.close();
    return { ...st, s, second: st.rec.at(T0 + 10_000) };
  }

  it('sample_limit exceeded: up=0, nothing from the body, the previous series stale', async () => {
    const { loop, second, s, metrics, rec } = await limited('sample_limit: 3', 'a 1\nb 2\nc 3\nd 4\ne 5\n');
    assert.equal(loop.target.lastError, 'sample limit exceeded');
    assert.equal(loop.target.health, 'down');
    assert.equal(second.get(up(s.addr))?.v, 0);
    assert.deepEqual(rec.names(T0 + 10_000), ['ok', 'scrape_duration_seconds', 'scrape_samples_post_metric_relabeling', 'scrape_samples_scraped', 'scrape_series_added', 'up']);
    assert.equal(second.get(ser('ok', s.addr))?.stale, true);
    assert.equal(second.get(ser('scrape_samples_scraped', s.addr))?.v, 5);
    assert.equal(second.get(ser('scrape_samples_post_metric_relabeling', s.addr))?.v, 5);
    assert.equal(metrics.sampleLimitExceeded, 1);
  });

  it('sample_limit counts after metric relabeling', async () => {
    const { loop, second, s } = await limited(
      `sample_limit: 2
metric_relabel_configs: [{source_labels: [__name__], regex: 'drop_.*', action: drop}]`,
      'a 1\nb 2\ndrop_x 3\ndrop_y 4\n',
    );
    assert.equal(loop.target.lastError, '');
    assert.equal(second.get(up(s.addr))?.v, 1);
  });

  it('label_limit, label_name_length_limit and label_value_length_limit give Prometheus messages', async () => {
    const cases: [string, string, string][] = [
      ['label_limit: 4', 'm{a="1",b="2"} 1\n', 'label_limit exceeded (metric: m, number of labels: 6, limit: 4)'],
      ['label_name_length_limit: 8', 'm{abcdefghi="1"} 1\n', 'label_name_length_limit exceeded (metric: m, label name: abcdefghi, length: 9, limit: 8)'],
      [
        'label_value_length_limit: 24',
        `m{a="${'é'.repeat(13)}"} 1\n`,
        `label_value_length_limit exceeded (metric: m, label name: a, value: "${'é'.repeat(13)}", length: 26, limit: 24)`,
      ],
    ];
    for (const [extra, body, msg] of cases) {
      const { loop, second, s, metrics } = await limited(extra, body);
      assert.equal(loop.target.lastError, msg);
      assert.equal(second.get(up(s.addr))?.v, 0);
      assert.equal(second.get(ser('ok', s.addr))?.stale, true);
      assert.equal(metrics.labelLimitExceeded, 1);
    }
  });

  it('body_size_limit: reading stops at the limit (plain and gzip), scrape_body_size_bytes is -1', async () => {
    const big = 'x'.repeat(2000) + ' 1\n';
    for (const gzip of [false, true]) {
      const s = await target((_req, res) => {
        res.setHeader('Content-Type', 'text/plain');
        if (gzip) {
          res.setHeader('Content-Encoding', 'gzip');
          res.end(gzipSync(big));
        } else res.end(big);
      });
      const { loop, rec, client, metrics } = setup(s.addr, 'body_size_limit: 1KB\nextra_scrape_metrics: true');
      await loop.scrapeOnce(T0);
      client.close();
      assert.equal(loop.target.lastError, 'body size limit exceeded');
      assert.equal(rec.value(up(s.addr), T0), 0);
      assert.equal(rec.value(ser('scrape_body_size_bytes', s.addr), T0), -1);
      assert.equal(rec.value(ser('scrape_sample_limit', s.addr), T0), 0);
      assert.equal(rec.value(ser('scrape_timeout_seconds', s.addr), T0), 2);
      assert.equal(metrics.bodySizeLimitExceeded, 1);
    }
  });
});

describe('scrape: gzip bodies that inflate far', () => {
  it('beyond the on-loop inflate cap (8 MiB) the body is inflated off the loop: kept under the limit, refused over it', async () => {
    const body = gzipSync('# ' + 'x'.repeat(9 * 1024 * 1024) + '\nok 1\n');
    assert.ok(body.length < 256 * 1024); // small enough for the on-loop path to try first
    const s = await target((_req, res) => {
      res.setHeader('Content-Type', 'text/plain');
      res.setHeader('Content-Encoding', 'gzip');
      res.end(body);
    });
    for (const [limit, ok] of [['', true], ['body_size_limit: 20MB', true], ['body_size_limit: 5MB', false]] as const) {
      const { loop, rec, client } = setup(s.addr, limit);
      await loop.scrapeOnce(T0);
      client.close();
      assert.equal(loop.target.lastError, ok ? '' : 'body size limit exceeded', limit);
      assert.equal(rec.value(up(s.addr), T0), ok ? 1 : 0, limit);
    }
  });
});

describe('scrape: failures never escape the loop', () => {
  it('a bad exposition: up=0, the parse error with its line in lastError, recovery on the next good body', async () => {
    let body = 'a 1\nb 2\n';
    const s = await target(exposition(() => body));
    const { loop, rec, client, logs } = setup(s.addr);
    await loop.scrapeOnce(T0);
    body = 'a 1\nb 2\nc{x="unterminated} 3\n';
    await loop.scrapeOnce(T0 + 10_000);
    assert.equal(rec.value(up(s.addr), T0 + 10_000), 0);
    assert.match(loop.target.lastError, /^line 3: /);
    assert.equal(rec.at(T0 + 10_000).get(ser('a', s.addr))?.stale, true);
    assert.equal(rec.at(T0 + 10_000).get(ser('b', s.addr))?.stale, true);
    assert.ok(logs.some((l) => l.includes('level=warn') && l.includes('line 3') && l.includes(s.addr)), logs.join(''));
    body = 'a 5\n';
    await loop.scrapeOnce(T0 + 20_000);
    client.close();
    assert.equal(rec.value(up(s.addr), T0 + 20_000), 1);
    assert.equal(rec.value(ser('a', s.addr), T0 + 20_000), 5);
    assert.equal(loop.target.health, 'up');
    assert.ok(logs.some((l) => l.includes('level=info') && l.includes('target is up')));
  });

  it('timeout: the scrape is cut at scrape_timeout with Go\'s message', async () => {
    const s = await target((_req, res) => {
      res.setHeader('Content-Type', 'text/plain');
      res.write('a 1\n'); // headers and a first chunk, then nothing
    });
    const { loop, rec, client } = setup(s.addr, '', '300ms');
    const cfgTimeout = 300;
    const t = performance.now();
    await loop.scrapeOnce(T0);
    const took = performance.now() - t;
    client.close();
    assert.equal(loop.target.lastError, `Get "http://${s.addr}/metrics": context deadline exceeded`);
    assert.ok(took >= cfgTimeout - 20 && took < cfgTimeout + 1000, `took ${took} ms`);
    assert.equal(rec.value(up(s.addr), T0), 0);
  });

  it('shutdown cuts every scrape in flight (before and after the headers) with "context canceled"; later scrapes are refused', async () => {
    const silent = await target(() => undefined); // never answers
    const trickle = await target((_req, res) => {
      res.setHeader('Content-Type', 'text/plain');
      res.write('a 1\n'); // headers and a first chunk, then nothing
    });
    const client = new ScrapeClient(job(`job_name: t\nstatic_configs: [{targets: ['${silent.addr}']}]`));
    const stop = new AbortController();
    const scrape = (addr: string) =>
      client.scrape({ url: `http://${addr}/metrics`, accept: SCRAPE_ACCEPT_HEADER, timeoutMs: 30_000, signal: stop.signal }).then(
        () => 'resolved',
        (err: Error) => err.message,
      );
    const both = [scrape(silent.addr), scrape(trickle.addr), scrape(silent.addr)];
    await new Promise((r) => setTimeout(r, 150));
    const t = performance.now();
    stop.abort();
    const msgs = await Promise.all(both);
    assert.ok(performance.now() - t < 1000, 'cut at once');
    assert.deepEqual(msgs, [silent.addr, trickle.addr, silent.addr].map((a) => `Get "http://${a}/metrics": context canceled`));
    assert.equal(await scrape(trickle.addr), `Get "http://${trickle.addr}/metrics": context canceled`);
    client.close();
  });

  it('HTTP errors and refused connections are reported, not thrown', async () => {
    const s = await target((_req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    const a = setup(s.addr);
    await a.loop.scrapeOnce(T0);
    a.client.close();
    assert.equal(a.loop.target.lastError, 'server returned HTTP status 503 Service Unavailable');
    const dead = await serve(() => undefined);
    await dead.close(); // its port is now (almost certainly) closed
    const b = setup(dead.addr);
    await b.loop.scrapeOnce(T0);
    b.client.close();
    assert.match(b.loop.target.lastError, new RegExp(`^Get "http://${dead.addr}/metrics": .*ECONNREFUSED`));
    assert.equal(b.rec.value(up(dead.addr), T0), 0);
  });

  it('an empty body is an empty scrape: up=1 and every previous series stale', async () => {
    let body = 'a 1\n';
    const s = await target(exposition(() => body));
    const { loop, rec, client } = setup(s.addr);
    await loop.scrapeOnce(T0);
    body = '';
    await loop.scrapeOnce(T0 + 10_000);
    client.close();
    assert.equal(rec.value(up(s.addr), T0 + 10_000), 1);
    assert.equal(rec.at(T0 + 10_000).get(ser('a', s.addr))?.stale, true);
  });
});

describe('scrape: staleness', () => {
  it('a series missing from the next scrape gets a stale marker at that scrape time, once', async () => {
    let body = 'a 1\nb 2\nc 3 1600000000000\n';
    const s = await target(exposition(() => body));
    const { loop, rec, client, metrics } = setup(s.addr);
    await loop.scrapeOnce(T0);
    body = 'a 1\n';
    await loop.scrapeOnce(T0 + 10_000);
    await loop.scrapeOnce(T0 + 20_000);
    body = 'a 1\nb 7\n';
    await loop.scrapeOnce(T0 + 30_000);
    client.close();
    const second = rec.at(T0 + 10_000);
    assert.equal(second.get(ser('b', s.addr))?.stale, true);
    assert.equal(second.get(ser('a', s.addr))?.v, 1);
    assert.equal(second.has(ser('c', s.addr)), false, 'series with their own timestamps are not marked');
    assert.equal(rec.at(T0 + 20_000).has(ser('b', s.addr)), false, 'one marker only');
    assert.equal(rec.value(ser('b', s.addr), T0 + 30_000), 7);
    assert.equal(metrics.staleMarkers, 1);
  });

  it('two spellings of one series share staleness: no marker while either is exposed', async () => {
    let body = 'm{a="1",b="2"} 1\n';
    const s = await target(exposition(() => body));
    const { loop, rec, client } = setup(s.addr);
    await loop.scrapeOnce(T0);
    body = 'm{b="2",a="1"} 1\n';
    await loop.scrapeOnce(T0 + 10_000);
    client.close();
    const m = rec.at(T0 + 10_000).get(ser('m', s.addr, 'a="1", b="2"'));
    assert.equal(m?.stale, false);
    assert.equal(m?.v, 1);
  });
});

describe('scrape: HTTP client settings', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'argus-scrape-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  });

  it('gzip bodies, params and __param_ labels in the URL, basic auth from a password file', async () => {
    writeFileSync(join(dir, 'pw'), 's3cret\n');
    const s = await target((req, res) => {
      res.setHeader('Content-Type', 'text/plain');
      res.setHeader('Content-Encoding', 'gzip');
      res.end(gzipSync(`seen{auth="${req.headers.authorization}"} 1\n`));
    });
    const { loop, rec, client } = setup(
      s.addr,
      `params: {module: [http_2xx, extra], 'a b': ['x~y*']}
basic_auth: {username: u, password_file: ${join(dir, 'pw')}}
metrics_path: /probe`,
    );
    assert.equal(loop.target.url, `http://${s.addr}/probe?a+b=x~y%2A&module=http_2xx&module=extra`);
    await loop.scrapeOnce(T0);
    client.close();
    assert.equal(s.lastUrl, '/probe?a+b=x~y%2A&module=http_2xx&module=extra');
    const auth = 'Basic ' + Buffer.from('u:s3cret').toString('base64');
    assert.equal(rec.value(`seen{auth="${auth}", env="prod", instance="${s.addr}", job="t"}`, T0), 1);
  });

  it('authorization credentials, extra headers, redirects followed or reported', async () => {
    const s = await target((req, res) => {
      if (req.url === '/metrics') {
        res.statusCode = 302;
        res.setHeader('Location', '/real');
        res.end();
        return;
      }
      res.setHeader('Content-Type', 'text/plain');
      res.end(`hdr{auth="${req.headers.authorization}",x="${req.headers['x-tenant']}"} 1\n`);
    });
    const a = setup(s.addr, "authorization: {credentials: tok}\nhttp_headers: {X-Tenant: {values: [acme]}}");
    await a.loop.scrapeOnce(T0);
    a.client.close();
    assert.equal(a.rec.value(`hdr{auth="Bearer tok", env="prod", instance="${s.addr}", job="t", x="acme"}`, T0), 1);
    const b = setup(s.addr, 'follow_redirects: false');
    await b.loop.scrapeOnce(T0);
    b.client.close();
    assert.equal(b.loop.target.lastError, 'server returned HTTP status 302 Found');
  });

  it('TLS: CA file and server_name verify the target; an unknown CA fails unless insecure_skip_verify', async (t) => {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
    } catch {
      t.skip('openssl is not installed: cannot make a test certificate');
      return;
    }
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-keyout', key, '-out', cert, '-subj', '/CN=argus-target', '-addext', 'subjectAltName=DNS:argus-target.test',
    ], { stdio: 'ignore' });
    const { readFileSync } = await import('node:fs');
    const srv = await serve(exposition(() => 'secure 1\n'), { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') });
    cleanups.push(() => srv.close());
    const ok = setup(srv.addr, `scheme: https\ntls_config: {ca_file: ${cert}, server_name: argus-target.test}`);
    await ok.loop.scrapeOnce(T0);
    ok.client.close();
    assert.equal(ok.loop.target.lastError, '');
    assert.equal(ok.rec.value(ser('secure', srv.addr), T0), 1);
    const wrongName = setup(srv.addr, `scheme: https\ntls_config: {ca_file: ${cert}, server_name: other.test}`);
    await wrongName.loop.scrapeOnce(T0);
    wrongName.client.close();
    assert.match(wrongName.loop.target.lastError, /other\.test/);
    const noCa = setup(srv.addr, 'scheme: https');
    await noCa.loop.scrapeOnce(T0);
    noCa.client.close();
    assert.match(noCa.loop.target.lastError, /self[- ]signed certificate/i);
    const insecure = setup(srv.addr, 'scheme: https\ntls_config: {insecure_skip_verify: true}');
    await insecure.loop.scrapeOnce(T0);
    insecure.client.close();
    assert.equal(insecure.loop.target.lastError, '');
    const missing = setup(srv.addr, `scheme: https\ntls_config: {ca_file: ${join(dir, 'nope.pem')}}`);
    await missing.loop.scrapeOnce(T0);
    missing.client.close();
    assert.match(missing.loop.target.lastError, /^Get "https:\/\/.*": unable to load specified CA cert .*nope\.pem/);
  });
});

describe('scrape: body fuzz', () => {
  it('random bytes served as gzip or plain text end as up=0 with a clear error or as parsed samples', async () => {
    let payload: Buffer = Buffer.alloc(0);
    let gzip = false;
    const s = await target((_req, res) => {
      res.setHeader('Content-Type', 'text/plain');
      if (gzip) res.setHeader('Content-Encoding', 'gzip');
      res.end(payload);
    });
    const { loop, rec, client } = setup(s.addr);
    let ts = T0;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), fc.boolean(), fc.boolean(), async (bytes, gz, truncate) => {
        gzip = gz;
        const raw = Buffer.from(bytes);
        // Valid gzip of random bytes, a truncated gzip stream, or plain random bytes.
        payload = gz ? (truncate ? gzipSync(raw).subarray(0, 12) : gzipSync(raw)) : raw;
        ts += 10_000;
        await loop.scrapeOnce(ts);
        const upV = rec.value(up(s.addr), ts);
        assert.ok(upV === 0 || upV === 1, `up=${upV}`);
        if (upV === 0) assert.match(loop.target.lastError, /^(line \d+: |gzip: |Get ")/);
      }),
      { numRuns: 60 },
    );
    client.close();
  });
});

describe('scrape: append fuzz', () => {
  it('any body (text or OpenMetrics) ends in a result or an error text; nothing throws, a failure leaves no trace', async () => {
    const cfg = job(`job_name: f
static_configs: [{targets: ['h:1']}]
sample_limit: 20
label_limit: 8`);
    const settings = loopSettings(cfg);
    const line = fc.oneof(
      fc.constantFrom('a 1', 'a{x="1"} 2', '# TYPE a counter', '# EOF', 'b{y="z",x="1"} NaN', 'c +Inf 1700000000000', '# HELP a x', 'a_total 3'),
      fc.string({ maxLength: 30 }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 30 }), fc.boolean(), async (lines, om) => {
        const rec = new Recorder();
        const cache = new ScrapeCache();
        const app = rec.appender();
        const body = Buffer.from(lines.join('\n') + '\n');
        const res = await appendScrape(app, cache, body, om ? 'application/openmetrics-text' : 'text/plain', T0, [], settings, newScrapeMetrics());
        assert.ok(res.err === null || (typeof res.err === 'string' && res.err.length > 0));
        assert.ok(res.added <= res.total);
        if (res.err !== null) {
          app.rollback();
          cache.forgetAttempt();
          assert.equal(cache.series.size, 0);
          assert.equal(cache.cur.length, 0);
        } else await app.commit();
      }),
      { numRuns: 400 },
    );
  });
});
