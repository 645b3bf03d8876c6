/**
 * The S3 bucket against a real S3: Ceph radosgw (scripts/peers/radosgw.sh). The acceptance suite runs with
 * the multipart threshold lowered so that `putFile` of 12 MiB goes up in three 5 MiB parts; then what only
 * S3 can show (abort, a missing bucket, credentials).
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { S3Bucket, isNotFound, type Bucket } from '../../src/objstore/index.js';
import { peerBinary } from '../support/peers.js';
import { requireRadosgw, startRadosgw, type RunningRadosgw } from '../support/radosgw.js';
import { bucketAcceptance } from './acceptance.js';

const MiB = 1 << 20;
let rgw: RunningRadosgw | null = null;
let bucket: S3Bucket | null = null;

function open(extra: Partial<ConstructorParameters<typeof S3Bucket>[0]> = {}): S3Bucket {
  return new S3Bucket({
    bucket: rgw!.bucket,
    endpoint: rgw!.endpoint,
    region: rgw!.region,
    accessKeyId: rgw!.accessKeyId,
    secretAccessKey: rgw!.secretAccessKey,
    multipartThreshold: 6 * MiB,
    partSize: 5 * MiB,
    env: {},
    ...extra,
  });
}

before(async () => {
  if (peerBinary('radosgw') === null) return; // each test skips (or fails under CI) through requireRadosgw
  rgw = await startRadosgw();
  console.error(`# radosgw ready in ${rgw.startMs} ms at ${rgw.endpoint}`);
  bucket = open();
});

after(async () => {
  await bucket?.close();
  const t0 = performance.now();
  await rgw?.stop();
  if (rgw) console.error(`# radosgw stopped in ${Math.round(performance.now() - t0)} ms`);
});

const get = (t: import('node:test').TestContext): Bucket | null => (requireRadosgw(t) ? bucket : null);

bucketAcceptance('s3 (radosgw)', {
  bucket: get,
  largeFileBytes: 12 * MiB,
  afterLargePutFile: (b) => {
    const s = (b as S3Bucket).stats;
    assert.ok(s.multipartUploads >= 1, 'the large file went up as a multipart upload');
    assert.ok(s.partsUploaded >= 3, `12 MiB in 5 MiB parts is 3 parts, saw ${s.partsUploaded}`);
  },
});

/**
 * A proxy in front of radosgw that answers every `period`-th request with 500 InternalError (S3 documents
 * it as "retry") without forwarding it, and forwards the rest unchanged. (503 SlowDown would be retried
 * too, but after the SDK's longer throttling backoff: slower tests, same code path.)
 */
async function flakyProxy(target: string, period: number): Promise<{ url: string; failed: () => number; close: () => Promise<void> }> {
  const t = new URL(target);
  let n = 0;
  let failed = 0;
  const server: Server = createServer((req, res) => {
    if (++n % period === 0) {
      failed++;
      req.resume();
      req.on('end', () => {
        res.writeHead(500, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected</Message></Error>');
      });
      return;
    }
    const up = request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', (e) => res.destroy(e));
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    failed: () => failed,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

describe('s3 bucket specifics (radosgw)', () => {
  test('transient 500s are retried: puts, ranged gets, listings and a multipart upload all come out whole', async (t) => {
    if (get(t) === null) return;
    const proxy = await flakyProxy(rgw!.endpoint, 3);
    const b = open({ endpoint: proxy.url });
    const dir = mkdtempSync(join(tmpdir(), 'argus-s3-flaky-'));
    try {
      const bodies = Array.from({ length: 12 }, (_, i) => new Uint8Array(1000 + i).fill(i));
      await Promise.all(bodies.map((body, i) => b.put(`flaky/k${String(i).padStart(2, '0')}`, body)));
      for (let i = 0; i < bodies.length; i++) {
        assert.deepEqual(await b.getRange(`flaky/k${String(i).padStart(2, '0')}`, 10, 5), bodies[i]!.subarray(10, 15));
      }
      const listed: string[] = [];
      for await (const k of b.iter('flaky/')) listed.push(k);
      assert.equal(listed.length, 12);
      const file = join(dir, 'big');
      const big = new Uint8Array(11 * MiB).map((_, i) => (i * 7) & 0xff);
      writeFileSync(file, big);
      await b.putFile('flaky/big', file);
      assert.ok(Buffer.from(await b.get('flaky/big')).equals(Buffer.from(big)));
      assert.ok(proxy.failed() >= 10, `the proxy failed ${proxy.failed()} requests`);
      t.diagnostic(`${proxy.failed()} injected 500s, all retried`);
    } finally {
      await b.close();
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an aborted get rejects with AbortError', async (t) => {
    const b = get(t);
    if (b === null) return;
    await b.put('abort/x', new Uint8Array(4 * MiB));
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(b.get('abort/x', ac.signal), (err: Error) => err.name === 'AbortError');
    await assert.rejects(b.getRange('abort/x', 0, 10, ac.signal), (err: Error) => err.name === 'AbortError');
  });

  test('a missing bucket is an error that says so, not ObjectNotFoundError', async (t) => {
    if (get(t) === null) return;
    const b = open({ bucket: 'argus-no-such-bucket' });
    try {
      await assert.rejects(b.get('x'), (err: Error) => !isNotFound(err) && /NoSuchBucket|does not exist/.test(err.message));
      await assert.rejects(b.put('x', new Uint8Array(1)), /argus-no-such-bucket.*(NoSuchBucket|does not exist)/);
    } finally {
      await b.close();
    }
  });

  test('wrong credentials fail with the store\'s reason; credentials from AWS_* variables work', async (t) => {
    if (get(t) === null) return;
    const bad = open({ secretAccessKey: 'wrong', maxAttempts: 1 });
    try {
      await assert.rejects(bad.put('creds/x', new Uint8Array(1)), /SignatureDoesNotMatch|AccessDenied|HTTP 403/);
    } finally {
      await bad.close();
    }
    const fromEnv = new S3Bucket({
      bucket: rgw!.bucket,
      env: {
        AWS_ENDPOINT_URL_S3: rgw!.endpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: rgw!.accessKeyId,
        AWS_SECRET_ACCESS_KEY: rgw!.secretAccessKey,
      },
    });
    try {
      await fromEnv.put('creds/env', new Uint8Array([7]));
      assert.deepEqual([...(await fromEnv.get('creds/env'))], [7]);
    } finally {
      await fromEnv.close();
    }
  });

  test('list pages of a few keys still list everything in order', async (t) => {
    if (get(t) === null) return;
    const b = open({ listPageSize: 7 });
    try {
      const keys = Array.from({ length: 30 }, (_, i) => `paged/${i % 3}/k${String(i).padStart(2, '0')}`);
      await Promise.all(keys.map((k) => b.put(k, new Uint8Array(1))));
      const rec: string[] = [];
      for await (const k of b.iter('paged/', { recursive: true })) rec.push(k);
      assert.deepEqual(rec, [...keys].sort());
      const level: string[] = [];
      for await (const k of b.iter('paged/')) level.push(k);
      assert.deepEqual(level, ['paged/0/', 'paged/1/', 'paged/2/']);
    } finally {
      await b.close();
    }
  });
});
