import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  freePort,
  peerBinary,
  requirePeer,
  startEtcd,
  startNodeExporter,
  startPrometheus,
  startVictoriaMetrics,
  type RunningPeer,
} from './peers.js';

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** The common checks: loopback URL, live PID, state dir; after stop the process and the dir are gone. */
async function checkStopped(p: RunningPeer): Promise<void> {
  assert.match(p.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.ok(alive(p.pid), `${p.name} pid ${p.pid} should be running`);
  assert.ok(existsSync(p.dir));
  await p.stop();
  assert.ok(!alive(p.pid), `${p.name} pid ${p.pid} should be gone`);
  assert.ok(!existsSync(p.dir), `${p.name} state dir should be removed`);
  await p.stop(); // idempotent
}

test('freePort returns a bindable loopback port', async () => {
  const p = await freePort();
  assert.ok(Number.isInteger(p) && p > 0 && p < 65536);
});

test('peerBinary finds installed peers by their Debian names', (t) => {
  if (requirePeer(t, 'promtool') === null) return;
  assert.match(peerBinary('promtool') ?? '', /^\/.*promtool$/);
});

test('prometheus starts, answers, stops', async (t) => {
  if (requirePeer(t, 'prometheus') === null) return;
  const p = await startPrometheus({
    config: 'global:\n  scrape_interval: 1s\nscrape_configs: []\n',
    args: ['--web.enable-remote-write-receiver'],
  });
  try {
    const info = await get(`${p.url}/api/v1/status/buildinfo`);
    assert.equal(info.status, 200, p.logs());
    assert.match(info.body, /"version"/);
  } finally {
    await checkStopped(p);
  }
});

test('node exporter starts, serves metrics, stops; kill9 then stop cleans up', async (t) => {
  if (requirePeer(t, 'node-exporter') === null) return;
  const p = await startNodeExporter();
  const m = await get(`${p.url}/metrics`);
  assert.equal(m.status, 200);
  assert.match(m.body, /^node_cpu_seconds_total\{/m);
  await checkStopped(p);

  const q = await startNodeExporter();
  q.kill9();
  await q.stop();
  assert.ok(!alive(q.pid));
  assert.ok(!existsSync(q.dir));
});

test('victoria-metrics starts, answers, stops', async (t) => {
  if (requirePeer(t, 'victoria-metrics') === null) return;
  const p = await startVictoriaMetrics();
  try {
    const r = await get(`${p.url}/api/v1/query?query=1`);
    assert.equal(r.status, 200, p.logs());
  } finally {
    await checkStopped(p);
  }
});

test('etcd starts healthy, stops', async (t) => {
  if (requirePeer(t, 'etcd') === null) return;
  const p = await startEtcd();
  assert.equal(p.endpoint, p.url);
  try {
    const r = await get(`${p.endpoint}/health`);
    assert.equal(JSON.parse(r.body).health, 'true');
  } finally {
    await checkStopped(p);
  }
});

test('a peer left running is killed when the process exits', async (t) => {
  if (requirePeer(t, 'node-exporter') === null) return;
  const peers = fileURLToPath(new URL('./peers.ts', import.meta.url));
  // The child starts a peer and exits without stopping it; the exit hook must kill it.
  const script = `import { startNodeExporter } from ${JSON.stringify(peers)};
    const p = await startNodeExporter(); console.log(JSON.stringify({ pid: p.pid, dir: p.dir }));`;
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
  const { pid, dir } = JSON.parse(out.trim().split('\n').pop()!) as { pid: number; dir: string };
  const deadline = Date.now() + 3000;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  assert.ok(!alive(pid), `orphaned node exporter ${pid} still running`);
  assert.ok(!existsSync(dir), 'state dir of the orphan should be removed');
});

test('a peer that fails to start rejects with its logs and leaves nothing behind', async (t) => {
  if (requirePeer(t, 'prometheus') === null) return;
  await assert.rejects(startPrometheus({ config: 'scrape_configs: [[[\n' }), (e: Error) => {
    assert.match(e.message, /prometheus exited before ready/);
    assert.match(e.message, /--- logs ---[\s\S]*yaml/i);
    return true;
  });
});
