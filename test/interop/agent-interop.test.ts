/**
 * Interop of the agent with real peers (Debian packages): one Argus agent scrapes a real node exporter and
 * remote-writes to three receivers at once — Argus, Prometheus 2.42 (--web.enable-remote-write-receiver)
 * and VictoriaMetrics 1.79 — while that Prometheus scrapes the same node exporter itself.
 *
 * 1. Remote write: after the agent stops (its queues flushed), all three hold the same series with the same
 *    samples (timestamps and values; VictoriaMetrics stores values as decimals, so to 1e-12 relative).
 * 2. Scraping like Prometheus: two scrapers never read the same /metrics response when they scrape a live
 *    exporter at their own moments, so values are compared through a relay that snapshots the node
 *    exporter's output every 1.5 s and serves those exact bytes, with a snapshot number appended, to
 *    every scraper. For each snapshot both scraped, every series must have the same value in both stores
 *    (except scrape_duration_seconds and scrape_series_added, which are each scraper's own). The direct job
 *    (no relay) checks the series sets, and that counters never go backwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../src/agent/agent.js';
import { createLogger } from '../../src/util/log.js';
import { startArgusInProcess } from '../support/argus-inproc.js';
import { closeServer, listenLocal } from '../support/http-server.js';
import { requirePeer, startNodeExporter, startPrometheus, startVictoriaMetrics, type RunningPeer } from '../support/peers.js';
import { getJson, sleep, waitFor } from '../e2e/agent-support.js';

type Samples = Map<number, number>; // ms -> value
type Store = Map<string, Samples>; // canonical label set (without `drop` labels) -> samples

/**
 * A series' identity for comparison. `le` and `quantile` values are compared as numbers: Argus scrapes like
 * Prometheus 3, which writes them in float form (`quantile="1.0"`), while Prometheus 2.42 keeps the
 * exposition's text (`quantile="1"`).
 */
function key(metric: Record<string, string>, drop: readonly string[] = []): string {
  const norm = (k: string, v: string) => (k !== 'le' && k !== 'quantile' ? v : /^[+-]?inf$/i.test(v) ? v.replace('+', '').toLowerCase() : String(Number(v)));
  return JSON.stringify(Object.keys(metric).filter((k) => !drop.includes(k)).sort().map((k) => [k, norm(k, metric[k]!)]));
}

function sampleCount(st: Store): number {
  let n = 0;
  for (const s of st.values()) n += s.size;
  return n;
}

/** Raw samples of `selector` over the last 10 minutes through the Prometheus query API (Argus or Prometheus). */
async function promStore(url: string, selector: string, drop: readonly string[] = []): Promise<Store> {
  const q = new URLSearchParams({ query: `${selector}[10m]`, time: String(Date.now() / 1000 + 1), dedup: 'false' });
  const body = await getJson(`${url}/api/v1/query?${q}`);
  assert.equal(body.status, 'success', JSON.stringify(body));
  const out: Store = new Map();
  for (const r of body.data.result as { metric: Record<string, string>; values: [number, string][] }[]) {
    out.set(key(r.metric, drop), new Map(r.values.map(([t, v]) => [Math.round(t * 1000), Number(v)])));
  }
  return out;
}

/** Everything VictoriaMetrics holds for `selector` (/api/v1/export: one JSON object per line). */
async function vmStore(url: string, selector: string): Promise<Store> {
  const text = await (await fetch(`${url}/api/v1/export?${new URLSearchParams({ 'match[]': selector })}`)).text();
  const out: Store = new Map();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const r = JSON.parse(line) as { metric: Record<string, string>; values: (number | null)[]; timestamps: number[] };
    const s = new Map<number, number>();
    r.timestamps.forEach((t, i) => s.set(t, r.values[i] ?? NaN));
    out.set(key(r.metric), s);
  }
  return out;
}

/** Each snapshot is served for this long: both scrapers (1 s interval) read it at least once. */
const SNAPSHOT_MS = 1500;

/** Serves the node exporter's output of the current snapshot period, plus `argus_test_snapshot <n>`, to every scraper. */
class SnapshotRelay {
  private server: Server | null = null;
  private timer: NodeJS.Timeout | null = null;
  private body = '';
  snapshots = 0;
  port = 0;

  constructor(private readonly upstream: string) {}

  private async refresh(): Promise<void> {
    const text = await (await fetch(`${this.upstream}/metrics`, { headers: { Accept: 'text/plain;version=0.0.4' } })).text();
    this.snapshots++;
    this.body = `${text}# HELP argus_test_snapshot Which snapshot of the node exporter output this is.\n# TYPE argus_test_snapshot gauge\nargus_test_snapshot ${this.snapshots}\n`;
  }

  async start(): Promise<this> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), SNAPSHOT_MS);
    this.server = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(this.body);
    });
    this.port = await listenLocal(this.server);
    return this;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const s = this.server;
    this.server = null;
    if (s) await closeServer(s);
  }
}

function sameValue(a: number, b: number, relTol = 0): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  return relTol > 0 && Math.abs(a - b) <= relTol * Math.max(Math.abs(a), Math.abs(b));
}

/** Differences between two stores, described (at most `max`), for assertion messages. */
function diffStores(name: string, want: Store, got: Store, relTol = 0, max = 5): string[] {
  const out: string[] = [];
  for (const [k, s] of want) {
    const g = got.get(k);
    if (g === undefined) out.push(`${name}: series missing: ${k}`);
    else if (g.size !== s.size) out.push(`${name}: ${k}: ${g.size} samples, want ${s.size}; missing ${[...s.keys()].filter((t) => !g.has(t))} of ${[...s.keys()]}`);
    else for (const [t, v] of s) if (!g.has(t) || !sameValue(g.get(t)!, v, relTol)) out.push(`${name}: ${k} @${t}: ${g.get(t)} want ${v}`);
    if (out.length >= max) return out;
  }
  for (const k of got.keys()) if (!want.has(k) && out.length < max) out.push(`${name}: unexpected series ${k}`);
  return out;
}

test('agent → Argus, Prometheus 2.42 and VictoriaMetrics 1.79: same samples everywhere; same series and values as Prometheus\'s own scrape', { timeout: 90_000 }, async (t) => {
  if (!requirePeer(t, 'prometheus') || !requirePeer(t, 'node-exporter') || !requirePeer(t, 'victoria-metrics')) return;
  const peers: RunningPeer[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'argus-agent-interop-'));
  const argus = await startArgusInProcess('');
  let agent: Agent | null = null;
  let relay: SnapshotRelay | null = null;
  try {
    const ne = await startNodeExporter();
    peers.push(ne);
    relay = await new SnapshotRelay(ne.url).start();
    const direct = ne.url.replace('http://', '');
    const snap = `127.0.0.1:${relay.port}`;
    const jobs = `scrape_configs:
  - job_name: node
    static_configs: [{targets: ['${direct}']}]
  - job_name: node-snap
    static_configs: [{targets: ['${snap}']}]
`;
    const global = 'global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n';
    const [prom, vm] = await Promise.all([startPrometheus({ config: global + jobs, args: ['--web.enable-remote-write-receiver'] }), startVictoriaMetrics()]);
    peers.push(prom, vm);

    const queue = 'queue_config: {batch_send_deadline: 300ms, min_backoff: 50ms, max_backoff: 500ms}';
    const configFile = join(dir, 'prometheus.yml');
    await writeFile(
      configFile,
      `${global}  external_labels: {source: argus}\n${jobs}remote_write:
  - {url: '${argus.url}/api/v1/push', name: argus, ${queue}}
  - {url: '${prom.url}/api/v1/write', name: prometheus, ${queue}}
  - {url: '${vm.url}/api/v1/write', name: victoriametrics, ${queue}}
`,
    );
    agent = await Agent.start({ configFile, dataDir: join(dir, 'data'), logger: createLogger('warn', { role: 'agent' }) });
    // Prometheus applies discovered targets only after its 5 s discovery throttle; the agent scrapes meanwhile, and
    // the snapshot comparison counts from there.
    await waitFor('Prometheus scraping both jobs', async () => {
      const b = await getJson(`${prom.url}/api/v1/targets`);
      return b.data.activeTargets.length === 2 && b.data.activeTargets.every((x: { health: string }) => x.health === 'up');
    }, 20_000);

    // Both scrapers read several snapshots (each served for 1.5 s, scraped every second).
    const first = relay.snapshots;
    await waitFor('four more snapshots', async () => relay!.snapshots >= first + 4, 20_000);
    await sleep(500);
    await agent.stop();
    agent = null;
    // VictoriaMetrics makes rows searchable about a second after it acknowledged them.
    const want = sampleCount(await promStore(argus.url, '{source="argus"}'));
    await waitFor('VictoriaMetrics to show every acknowledged sample', async () => {
      await fetch(`${vm.url}/internal/force_flush`);
      return sampleCount(await vmStore(vm.url, '{source="argus"}')) >= want;
    }, 10_000).catch(() => undefined); // the comparison below says what is missing

    // 1. The same samples in all three receivers.
    const inArgus = await promStore(argus.url, '{source="argus"}');
    const inProm = await promStore(prom.url, '{source="argus"}');
    const inVm = await vmStore(vm.url, '{source="argus"}');
    console.log(`agent interop: ${inArgus.size} series, ${sampleCount(inArgus)} samples in Argus; Prometheus ${inProm.size} series; VictoriaMetrics ${inVm.size} series`);
    assert.ok(inArgus.size > 300, `node exporter series stored: ${inArgus.size}`);
    assert.deepEqual(diffStores('prometheus', inArgus, inProm), []);
    assert.deepEqual(diffStores('victoriametrics', inArgus, inVm, 1e-12), []);

    // 2a. The same series as Prometheus's own scrape of the node exporter.
    const own = await promStore(prom.url, '{job="node",source=""}');
    const mine = await promStore(argus.url, '{job="node"}', ['source']);
    const missing = [...own.keys()].filter((k) => !mine.has(k));
    const extra = [...mine.keys()].filter((k) => !own.has(k));
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, 'series sets of the direct job');
    // Counters only go up (node exporter's counters are `_total`), in Argus's copy as in Prometheus's.
    let counters = 0;
    for (const [k, s] of mine) {
      if (!k.includes('_total"')) continue;
      counters++;
      const vs = [...s.entries()].sort(([a], [b]) => a - b).map(([, v]) => v);
      for (let i = 1; i < vs.length; i++) assert.ok(vs[i]! >= vs[i - 1]!, `${k} went from ${vs[i - 1]} to ${vs[i]}`);
    }
    assert.ok(counters > 50, `counters checked: ${counters}`);

    // 2b. Through the relay: per snapshot, the same value of every series in both stores.
    const ownSnap = await promStore(prom.url, '{job="node-snap",source=""}');
    const mineSnap = await promStore(argus.url, '{job="node-snap"}', ['source']);
    const snapshotAt = (st: Store) => {
      const m = new Map<number, number>(); // snapshot -> time of its first scrape
      const samples = [...st.get(key({ __name__: 'argus_test_snapshot', instance: snap, job: 'node-snap' }))!].sort(([a], [b]) => a - b);
      for (const [t, v] of samples) if (!m.has(v)) m.set(v, t);
      return m;
    };
    const pAt = snapshotAt(ownSnap);
    const aAt = snapshotAt(mineSnap);
    const common = [...pAt.keys()].filter((n) => aAt.has(n));
    assert.ok(common.length >= 3, `snapshots scraped by both: ${common.length}; Prometheus ${JSON.stringify([...pAt])}, Argus ${JSON.stringify([...aAt])}`);
    const perScraper = new Set(['scrape_duration_seconds', 'scrape_series_added']);
    let compared = 0;
    const diffs: string[] = [];
    for (const n of common) {
      const tp = pAt.get(n)!;
      const ta = aAt.get(n)!;
      const seriesP = [...ownSnap].filter(([, s]) => s.has(tp)).map(([k]) => k);
      const seriesA = [...mineSnap].filter(([, s]) => s.has(ta)).map(([k]) => k);
      assert.deepEqual(seriesA.sort(), seriesP.sort(), `series of snapshot ${n}`);
      for (const k of seriesP) {
        if (perScraper.has(JSON.parse(k).find(([l]: [string]) => l === '__name__')[1])) continue;
        compared++;
        const vp = ownSnap.get(k)!.get(tp)!;
        const va = mineSnap.get(k)!.get(ta)!;
        if (!sameValue(vp, va) && diffs.length < 5) diffs.push(`snapshot ${n} ${k}: Argus ${va}, Prometheus ${vp}`);
      }
    }
    console.log(`agent interop: ${common.length} snapshots scraped by both, ${compared} values compared`);
    assert.deepEqual(diffs, []);
  } finally {
    await agent?.stop().catch(() => undefined);
    await relay?.stop();
    await Promise.allSettled(peers.map((p) => p.stop()));
    await argus.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
