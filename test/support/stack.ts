/** An in-process receive stack (config, TSDB in a temp dir, HA tracker, receiver, HTTP app) for tests. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { parseConfig, headLimitsFor, type Config } from '../../src/config/index.js';
import { HATracker, Receiver, createMemoryKV, createReceiveMetrics, type KV, type ReplicaDesc } from '../../src/receive/index.js';
import { createApp, registerTSDBMetrics } from '../../src/server/index.js';
import { TSDB } from '../../src/tsdb/index.js';
import { nopLogger } from '../../src/util/log.js';
import { encodeWriteV1, encodeWriteV2, snappyCompress, type WriteSeries, type WriteSeriesV2 } from '../../src/codec/index.js';
import { labelsFromObject, labelsToObject } from '../../src/model/labels.js';
import { Matcher, MatchType } from '../../src/model/matcher.js';
import { drain } from '../../src/tsdb/head/index.js';
import { Engine } from '../../src/promql/engine/index.js';

export interface Stack {
  cfg: Config;
  dir: string;
  db: TSDB;
  receiver: Receiver;
  tracker: HATracker;
  app: ReturnType<typeof createApp>;
  registry: Registry;
  close(): Promise<void>;
}

export async function startStack(yaml = '', opts: { dir?: string; kv?: KV<ReplicaDesc> } = {}): Promise<Stack> {
  const cfg = parseConfig(yaml);
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'argus-stack-')));
  const db = await TSDB.open({
    path: dir,
    headOptions: (t) => headLimitsFor(cfg, t),
    compactIntervalMs: 0, // tests call db.compactHeads() when they want blocks
    logger: nopLogger,
  });
  const ha = cfg.receive.ha_tracker;
  const kv = opts.kv ?? createMemoryKV<ReplicaDesc>();
  const tracker = new HATracker(kv, {
    updateTimeoutMs: ha.update_timeout,
    updateTimeoutJitterMaxMs: ha.update_timeout_jitter_max,
    failoverTimeoutMs: ha.failover_timeout,
  });
  await tracker.sync();
  const registry = new Registry();
  registerTSDBMetrics(registry, db);
  const receiver = new Receiver(cfg, db, tracker, nopLogger, createReceiveMetrics(registry));
  const app = createApp({ receiver, db, registry, logger: nopLogger, isReady: () => true, engine: new Engine() });
  return {
    cfg,
    dir,
    db,
    receiver,
    tracker,
    app,
    registry,
    async close() {
      receiver.close();
      await tracker.close();
      await db.close();
      if (!opts.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** One series with samples, labels given as an object (sorted for the wire). */
export function series(labels: Record<string, string>, samples: [number, number][]): WriteSeries {
  return { labels: labelsFromObject(labels), timestamps: samples.map((s) => s[0]), values: samples.map((s) => s[1]) };
}

export function v1Body(s: WriteSeries[]): Uint8Array {
  return snappyCompress(encodeWriteV1(s));
}

export function v2Body(s: WriteSeriesV2[]): Uint8Array {
  return snappyCompress(encodeWriteV2(s));
}

export const V1_HEADERS = { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy', 'X-Prometheus-Remote-Write-Version': '0.1.0' };
export const V2_HEADERS = {
  'Content-Type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request',
  'Content-Encoding': 'snappy',
  'X-Prometheus-Remote-Write-Version': '2.0.0',
};

/** Everything stored for metric `name` in a tenant's head, as plain arrays. */
export async function stored(st: Stack, name: string, tenant = 'anonymous') {
  const head = st.db.getHead(tenant);
  if (!head) return [];
  const out: { labels: Record<string, string>; ts: number[]; vs: number[] }[] = [];
  for await (const s of head.querier().select({ start: -Infinity, end: Infinity }, [new Matcher(MatchType.Equal, '__name__', name)])) {
    const { ts, vs } = drain(s.iterator());
    out.push({ labels: labelsToObject(s.labels), ts: [...ts], vs: [...vs] });
  }
  return out;
}
