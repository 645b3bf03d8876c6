// Interop: the real Prometheus (Debian 2.42) and Argus's scrape manager scrape the same local target
// with the same job configuration; the series each stores and the targets each reports must agree.
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import { ScrapeManager } from '../../src/agent/scrape/index.js';
import { parsePrometheusConfig } from '../../src/config/prometheus.js';
import { labelsToObject, labelsToString, type Labels } from '../../src/model/labels.js';
import type { Appendable } from '../../src/storage/interface.js';
import { nopLogger } from '../../src/util/log.js';
import { closeServer, listenLocal } from '../support/http-server.js';
import { requirePeer, startPrometheus } from '../support/peers.js';

const BODY = `# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{code="200",job="exposed",instance="x"} 10
http_requests_total{code="500",exported_job="taken"} 1
# TYPE go_gc_seconds summary
go_gc_seconds{quantile="0.5"} 0.001
go_gc_seconds_sum 0.5
go_gc_seconds_count 12
temperature{room="kitchen",path="/a/b"} 21.5
`;

function jobs(addr: string, droppedAddr: string): string {
  return `
  - job_name: plain
    scrape_interval: 1s
    params: {module: [m1]}
    static_configs: [{targets: ['${addr}', '${droppedAddr}'], labels: {env: test}}]
    relabel_configs:
      - {source_labels: [__address__], regex: '${droppedAddr.replace(/\./g, '\\.')}', action: drop}
    metric_relabel_configs:
      - {source_labels: [__name__], regex: 'go_.*_count', action: drop}
      - {source_labels: [path], regex: '/(\\w+)/.*', target_label: top, replacement: '$1'}
  - job_name: honored
    scrape_interval: 1s
    honor_labels: true
    static_configs: [{targets: ['${addr}']}]
`;
}

class SeriesSet implements Appendable {
  readonly series = new Map<string, Labels>();
  appender() {
    const staged: Labels[] = [];
    return {
      append: (_r: number, ls: Labels) => {
        staged.push(ls);
        return 0;
      },
      commit: async () => {
        for (const ls of staged) this.series.set(labelsToString(ls), ls);
      },
      rollback: () => undefined,
    };
  }
}

const sorted = (o: Record<string, string>): string => JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1))));

describe('scrape interop with Prometheus 2.42', () => {
  it('stores the same series and reports the same targets for the same configuration', async (t) => {
    if (requirePeer(t, 'prometheus') === null) return;
    const srv = http.createServer((_req, res) => {
      res.setHeader('Content-Type', 'text/plain; version=0.0.4');
      res.end(BODY);
    });
    const addr = `127.0.0.1:${await listenLocal(srv)}`;
    const droppedAddr = '127.0.0.1:1'; // dropped by relabeling: never contacted by either
    const cfgText = `scrape_configs:${jobs(addr, droppedAddr)}`;
    const prom = await startPrometheus({ config: cfgText });
    const ours = new SeriesSet();
    const m = new ScrapeManager({ appendable: ours, logger: nopLogger });
    try {
      await m.applyConfig(parsePrometheusConfig(cfgText));
      // Both have scraped both jobs once the report series of both targets exist.
      const promSeries = async (): Promise<Record<string, string>[]> => {
        const q = new URLSearchParams({ 'match[]': '{job=~"plain|honored|exposed"}' });
        const res = await fetch(`${prom.url}/api/v1/series?${q}`);
        return ((await res.json()) as { data: Record<string, string>[] }).data;
      };
      const deadline = Date.now() + 8000;
      let theirs: Record<string, string>[] = [];
      for (;;) {
        theirs = await promSeries();
        const ready = theirs.filter((s) => s.__name__ === 'up').length === 2 && [...ours.series.keys()].filter((k) => k.startsWith('up{')).length === 2;
        if (ready) break;
        if (Date.now() > deadline) throw new Error(`no scrapes in time; Prometheus has ${theirs.length} series:\n${prom.logs()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const want = theirs.map(sorted).sort();
      const got = [...ours.series.values()].map((ls) => sorted(labelsToObject(ls))).sort();
      assert.deepEqual(got, want);
      assert.ok(got.some((s) => s.includes('"exported_job":"exposed"') && s.includes('"exported_exported_job"') === false));

      // The targets API: the same targets, labels, discovered labels, URLs and intervals.
      const promTargets = ((await (await fetch(`${prom.url}/api/v1/targets`)).json()) as {
        data: { activeTargets: Record<string, unknown>[]; droppedTargets: Record<string, unknown>[] };
      }).data;
      const pick = (x: Record<string, unknown>) => ({
        scrapePool: x.scrapePool,
        scrapeUrl: x.scrapeUrl,
        labels: x.labels,
        discoveredLabels: x.discoveredLabels,
        scrapeInterval: x.scrapeInterval,
        scrapeTimeout: x.scrapeTimeout,
      });
      const byUrl = (a: { scrapePool: unknown }, b: { scrapePool: unknown }) => String(a.scrapePool).localeCompare(String(b.scrapePool));
      const snap = m.targets();
      const oursActive = snap.activeTargets.map((x) => ({
        scrapePool: x.scrapePool,
        scrapeUrl: x.scrapeUrl,
        labels: labelsToObject(x.labels),
        discoveredLabels: labelsToObject(x.discoveredLabels),
        scrapeInterval: x.scrapeInterval,
        scrapeTimeout: x.scrapeTimeout,
      }));
      assert.deepEqual(oursActive.sort(byUrl), promTargets.activeTargets.map(pick).sort(byUrl));
      assert.deepEqual(
        snap.droppedTargets.map((d) => labelsToObject(d.discoveredLabels)),
        promTargets.droppedTargets.map((d) => d.discoveredLabels),
      );
    } finally {
      await m.stop();
      await prom.stop();
      await closeServer(srv);
    }
  });
});
