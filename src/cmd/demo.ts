/**
 * `argus all --demo`: two simulated replicas ("a" and "b" of cluster "demo") remote-write the same
 * workload to this process every 5 s, like an HA pair of Prometheus servers. Every 10 minutes replica "a"
 * goes quiet for 60 s, so the HA status (/api/v1/ha/clusters) shows a failover and the stored series show
 * no gap. (The real agents that scrape targets come with `argus agent`.)
 */
import { encodeWriteV1, snappyCompress } from '../codec/index.js';
import { labelsFromObject } from '../model/labels.js';
import type { Logger } from '../util/log.js';

const INTERVAL_MS = 5_000;

export function startDemo(url: string, logger: Logger): { stop(): void } {
  const log = logger.with({ component: 'demo' });
  const started = Date.now();
  let requests = 0;
  const send = async (replica: string, t: number) => {
    const elapsed = (t - started) / 1000;
    const series = [];
    for (const path of ['/', '/api', '/login']) {
      for (const code of ['200', '500']) {
        const rate = (code === '200' ? 20 : 0.5) * (path === '/' ? 3 : 1);
        series.push({
          labels: labelsFromObject({ __name__: 'demo_http_requests_total', job: 'demo', instance: 'demo:8080', path, code, cluster: 'demo', __replica__: replica }),
          timestamps: [t],
          values: [Math.floor(rate * elapsed)],
        });
      }
    }
    series.push({
      labels: labelsFromObject({ __name__: 'demo_temperature_celsius', job: 'demo', instance: 'demo:8080', cluster: 'demo', __replica__: replica }),
      timestamps: [t],
      values: [21 + 3 * Math.sin(elapsed / 300)],
    });
    const body = snappyCompress(encodeWriteV1(series));
    const res = await fetch(`${url}/api/v1/push`, { method: 'POST', body, headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy' } });
    requests++;
    if (res.status >= 400) log.warn('demo write failed', { replica, status: res.status, body: await res.text() });
  };
  const timer = setInterval(() => {
    const t = Math.floor(Date.now() / INTERVAL_MS) * INTERVAL_MS;
    const minute = Math.floor((t - started) / 60_000) % 10;
    const aQuiet = minute === 9;
    if (!aQuiet) void send('a', t).catch((err) => log.warn('demo replica a could not write', { err }));
    void send('b', t).catch((err) => log.warn('demo replica b could not write', { err }));
  }, INTERVAL_MS);
  log.info('demo HA pair started: replicas a and b of cluster "demo" write every 5s; a pauses for 60s every 10 minutes', { url });
  return {
    stop() {
      clearInterval(timer);
      log.info('demo stopped', { requests });
    },
  };
}
