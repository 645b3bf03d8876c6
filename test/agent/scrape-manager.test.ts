// The scrape manager with real timers (200 ms intervals): scrape offsets and aligned ticks, reloads
// (unchanged jobs keep their loops and caches; removed targets get stale markers about two intervals
// later; stop() writes none), file_sd changes, relabel-dropped targets and target_limit.
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { offsetSeed, ScrapeManager, Target } from '../../src/agent/scrape/index.js';
import { parsePrometheusConfig } from '../../src/config/prometheus.js';
import { labelsFromObject, labelsToObject, labelsToString, type Labels } from '../../src/model/labels.js';
import { isStaleNaN } from '../../src/model/value.js';
import type { Appendable } from '../../src/storage/interface.js';
import { createLogger } from '../../src/util/log.js';
import { closeServer, listenLocal } from '../support/http-server.js';

interface Rec {
  labels: Labels;
  series: string;
  t: number;
  v: number;
  stale: boolean;
}

/** Records committed samples (values through a Float64Array, so stale markers keep their bits). */
class Recorder implements Appendable {
  committed: Rec[] = [];
  appender() {
    const staged: Rec[] = [];
    const f = new Float64Array(1);
    return {
      append: (_ref: number, labels: Labels, t: number, v: number) => {
        f[0] = v;
        staged.push({ labels, series: labelsToString(labels), t, v: f[0], stale: isStaleNaN(f[0]) });
        return 0;
      },
      commit: async () => {
        this.committed.push(...staged);
      },
      rollback: () => undefined,
    };
  }
  of(name: string, instance: string): Rec[] {
    return this.committed.filter((r) => r.series.startsWith(name + '{') && labelsToObject(r.labels).instance === instance);
  }
}

interface Served {
  addr: string;
  hits: number;
  body: string;
  close(): Promise<void>;
}

const servers: Served[] = [];
const dirs: string[] = [];
after(async () => {
  for (const s of servers) await s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function target(body = 'a 1\nb 2\n'): Promise<Served> {
  const s: Served = { addr: '', hits: 0, body, close: async () => undefined };
  const srv = http.createServer((_req, res) => {
    s.hits++;
    res.setHeader('Content-Type', 'text/plain; version=0.0.4');
    res.end(s.body);
  });
  s.addr = `127.0.0.1:${await listenLocal(srv)}`;
  s.close = () => closeServer(srv);
  servers.push(s);
  return s;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

function config(jobs: string): ReturnType<typeof parsePrometheusConfig> {
  return parsePrometheusConfig(`global:\n  scrape_interval: 200ms\nscrape_configs:\n${jobs}`);
}

function manager(rec: Recorder, logs: string[] = []): ScrapeManager {
  return new ScrapeManager({
    appendable: rec,
    logger: createLogger('debug', {}, (l) => logs.push(l)),
    externalLabels: labelsFromObject({ cluster: 'c1', __replica__: 'a' }),
    hostname: 'test-host',
  });
}

describe('scrape manager', () => {
  it("scrapes each target at its own offset, then on ticks one interval apart", async () => {
    const s1 = await target();
    const s2 = await target();
    const rec = new Recorder();
    const m = manager(rec);
    try {
      await m.applyConfig(config(`  - job_name: j\n    static_configs: [{targets: ['${s1.addr}', '${s2.addr}']}]\n`));
      await waitFor(() => rec.of('up', s1.addr).length >= 4 && rec.of('up', s2.addr).length >= 4, 3000, 'four scrapes of each target');
    } finally {
      await m.stop();
    }
    const seed = offsetSeed(labelsFromObject({ cluster: 'c1', __replica__: 'a' }), 'test-host');
    for (const s of [s1, s2]) {
      const ups = rec.of('up', s.addr).map((r) => r.t);
      const loopTarget = rec.of('up', s.addr)[0]!;
      assert.equal(labelsToObject(loopTarget.labels).job, 'j');
      // Phase predicted from the target's hash and the seed; a scrape may start late, never early.
      const tgt = new Target(
        labelsFromObject({ __address__: s.addr, __metrics_path__: '/metrics', __scheme__: 'http', __scrape_interval__: '200ms', __scrape_timeout__: '200ms', instance: s.addr, job: 'j' }),
        [],
        {},
      );
      const phase = Number((tgt.hash ^ seed) % 200n);
      for (const ts of ups) {
        const late = (((ts - phase) % 200) + 200) % 200;
        assert.ok(late < 100, `scrape at ${ts} is ${late} ms after its tick (phase ${phase})`);
      }
      for (let i = 1; i < ups.length; i++) {
        const d = ups[i]! - ups[i - 1]!;
        assert.ok(d > 100 && d < 300, `ticks ${ups[i - 1]} → ${ups[i]} are ${d} ms apart`);
      }
    }
  });

  it('reload: an unchanged job keeps its loops; a removed job gets stale markers ~2 intervals later; stop() writes none', async () => {
    const keep = await target('k 1\n');
    const gone = await target('g 1\n');
    const rec = new Recorder();
    const logs: string[] = [];
    const m = manager(rec, logs);
    const jobKeep = `  - job_name: keep\n    static_configs: [{targets: ['${keep.addr}']}]\n`;
    const jobGone = `  - job_name: gone\n    static_configs: [{targets: ['${gone.addr}']}]\n`;
    try {
      await m.applyConfig(config(jobKeep + jobGone));
      await waitFor(() => rec.of('up', gone.addr).length >= 2 && rec.of('up', keep.addr).length >= 1, 3000, 'scrapes of both jobs');
      const loop = m.pool('keep')!.loops()[0]!;
      await m.applyConfig(config(jobKeep));
      const removedAt = Date.now();
      assert.equal(m.pool('keep')!.loops()[0], loop, 'the unchanged job runs on with the same loop');
      assert.equal(m.pool('gone'), undefined);
      const lastUp = Math.max(...rec.of('up', gone.addr).filter((r) => !r.stale).map((r) => r.t));
      await waitFor(() => rec.of('g', gone.addr).some((r) => r.stale), 2000, 'the stale marker of the removed target');
      const waited = Date.now() - removedAt;
      assert.ok(waited >= 200, `markers came ${waited} ms after the reload; Prometheus waits two intervals`);
      const staleUp = rec.of('up', gone.addr).filter((r) => r.stale);
      assert.equal(staleUp.length, 1, 'the report series are marked too');
      const stalenessTime = staleUp[0]!.t;
      assert.ok(stalenessTime > lastUp && stalenessTime <= lastUp + 400, `stale at ${stalenessTime}, last scrape ${lastUp}`);
      assert.equal((stalenessTime - lastUp) % 200, 0, 'stamped at a tick of the target');
      for (const name of ['g', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling', 'scrape_series_added']) {
        assert.ok(rec.of(name, gone.addr).some((r) => r.stale && r.t === stalenessTime), `${name} marked stale`);
      }
      assert.ok(logs.some((l) => l.includes('scrape job removed') && l.includes('scrape_pool=gone')));
    } finally {
      await m.stop();
    }
    const after = rec.committed.length;
    const hits = keep.hits;
    await sleep(600);
    assert.equal(rec.committed.length, after, 'nothing is written after stop(), stale markers included');
    assert.equal(keep.hits, hits);
  });

  it('reload with a change that does not alter stored series restarts loops but keeps their caches (no markers)', async () => {
    const s = await target('x 1\n');
    const rec = new Recorder();
    const m = manager(rec);
    const jobWith = (limit: number) => `  - job_name: j\n    sample_limit: ${limit}\n    static_configs: [{targets: ['${s.addr}']}]\n`;
    try {
      await m.applyConfig(config(jobWith(100)));
      await waitFor(() => rec.of('x', s.addr).length >= 1, 2000, 'a first scrape');
      const old = m.pool('j')!.loops()[0]!;
      await m.applyConfig(config(jobWith(200)));
      const now = m.pool('j')!.loops()[0]!;
      assert.notEqual(now, old);
      assert.equal(now.cache, old.cache);
      const n = rec.of('x', s.addr).length;
      await waitFor(() => rec.of('x', s.addr).length >= n + 3, 2000, 'scrapes after the reload');
      await sleep(300);
      assert.equal(rec.committed.filter((r) => r.stale).length, 0);
    } finally {
      await m.stop();
    }
  });

  it('file_sd: a new target in the file is picked up and scraped; a removed one is marked stale', async () => {
    const s1 = await target('one 1\n');
    const s2 = await target('two 2\n');
    const dir = mkdtempSync(join(tmpdir(), 'argus-mgr-sd-'));
    dirs.push(dir);
    const file = join(dir, 'targets.json');
    const write = (addrs: string[]) => {
      writeFileSync(file + '.tmp', JSON.stringify([{ targets: addrs, labels: { team: 'sd' } }]));
      renameSync(file + '.tmp', file);
    };
    write([s1.addr]);
    const rec = new Recorder();
    const m = manager(rec);
    try {
      await m.applyConfig(config(`  - job_name: sd\n    file_sd_configs: [{files: ['${join(dir, '*.json')}'], refresh_interval: 1h}]\n`));
      assert.deepEqual(m.targets().activeTargets.map((t) => t.scrapeUrl), [`http://${s1.addr}/metrics`]);
      const discovered = labelsToObject(m.targets().activeTargets[0]!.discoveredLabels);
      assert.equal(discovered.__meta_filepath, file);
      assert.equal(labelsToObject(m.targets().activeTargets[0]!.labels).team, 'sd');
      await waitFor(() => rec.of('one', s1.addr).length >= 1, 2000, 'the first target scraped');
      write([s2.addr]);
      await waitFor(() => rec.of('two', s2.addr).length >= 1, 3000, 'the target added to the file');
      assert.equal(labelsToObject(rec.of('two', s2.addr)[0]!.labels).team, 'sd');
      await waitFor(() => rec.of('one', s1.addr).some((r) => r.stale), 2000, 'stale markers for the target removed from the file');
    } finally {
      await m.stop();
    }
  });

  it('relabel_configs: a dropped target is never contacted and is listed with its discovered labels', async () => {
    const kept = await target();
    const dropped = await target();
    const rec = new Recorder();
    const m = manager(rec);
    try {
      await m.applyConfig(
        config(`  - job_name: r
    static_configs: [{targets: ['${kept.addr}', '${dropped.addr}'], labels: {env: test}}]
    relabel_configs:
      - {source_labels: [__address__], regex: '${dropped.addr.replace(/\./g, '\\.')}', action: drop}
`),
      );
      const snap = m.targets();
      assert.equal(snap.activeTargets.length, 1);
      assert.deepEqual(snap.droppedTargets.map((d) => labelsToObject(d.discoveredLabels)), [
        {
          __address__: dropped.addr,
          __metrics_path__: '/metrics',
          __scheme__: 'http',
          __scrape_interval__: '200ms',
          __scrape_timeout__: '200ms',
          env: 'test',
          job: 'r',
        },
      ]);
      assert.deepEqual(snap.droppedTargetCounts, { r: 1 });
      await waitFor(() => kept.hits >= 2, 2000, 'scrapes of the kept target');
      assert.equal(dropped.hits, 0);
    } finally {
      await m.stop();
    }
  });

  it('target_limit: too many targets means no scrapes and up=0 with the reason', async () => {
    const a = await target();
    const b = await target();
    const rec = new Recorder();
    const m = manager(rec);
    try {
      await m.applyConfig(config(`  - job_name: lim\n    target_limit: 1\n    static_configs: [{targets: ['${a.addr}', '${b.addr}']}]\n`));
      await waitFor(() => rec.of('up', a.addr).length >= 1 && rec.of('up', b.addr).length >= 1, 2000, 'reports of both targets');
      assert.equal(a.hits + b.hits, 0);
      assert.equal(rec.of('up', a.addr)[0]!.v, 0);
      assert.equal(m.targets().activeTargets[0]!.lastError, 'target_limit exceeded (number of targets: 2, limit: 1)');
      assert.equal(m.metrics.targetLimitExceeded, 1);
    } finally {
      await m.stop();
    }
  });
});
