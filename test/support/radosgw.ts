/**
 * A real S3 for tests: Ceph radosgw on a single-node cluster (1 mon + 1 memstore OSD), started and stopped
 * by scripts/peers/radosgw.sh on a free port with its state in a fresh temp dir. An exit hook stops it if the
 * test process ends without calling stop(), so a failed test never leaks the daemons.
 */
import { execFile, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from './ports.js';
import { requirePeer } from './peers.js';

// The SDK warns once per process that its 2027 releases will need Node 22; tests run on Node 20 on purpose.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const SCRIPT = new URL('../../scripts/peers/radosgw.sh', import.meta.url).pathname;
const START_TIMEOUT_MS = 90_000;

export interface RunningRadosgw {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** A bucket created for the caller. */
  bucket: string;
  /** State dir (config, logs under log/). */
  dir: string;
  /** Ms from start to a created bucket. */
  startMs: number;
  /** Stops radosgw, OSD and mon (in that order) and removes the state dir. Idempotent. */
  stop(): Promise<void>;
  /** A tail of the daemons' logs, for failure messages. */
  logs(): string;
}

/** Ceph's executables besides radosgw that the script needs. */
const ALSO_NEEDED = ['ceph-mon', 'ceph-osd', 'ceph', 'radosgw-admin', 'monmaptool', 'ceph-authtool'];

function onPath(bin: string): boolean {
  for (const d of ['/usr/bin', ...(process.env.PATH ?? '').split(delimiter).filter((p) => p.startsWith('/'))]) {
    try {
      accessSync(join(d, bin), constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
}

/** Like requirePeer: true when everything is installed; otherwise a loud skip (a failure under CI=true). */
export function requireRadosgw(t: TestContext): boolean {
  if (requirePeer(t, 'radosgw') === null) return false;
  const missing = ALSO_NEEDED.filter((b) => !onPath(b));
  if (missing.length === 0) return true;
  const line = `PEER MISSING: radosgw needs ${missing.join(', ')} (apt-get install ceph-mon ceph-osd ceph-common radosgw)`;
  if (process.env.CI === 'true') throw new Error(line);
  console.error(`\n!!! ${line} !!!\n`);
  t.skip(line);
  return false;
}

const live = new Set<string>();
let hooked = false;

function stopSync(dir: string): void {
  spawnSync('bash', [SCRIPT, 'stop', dir], { stdio: 'ignore', timeout: 30_000 });
  rmSync(dir, { recursive: true, force: true });
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  const stopAll = (): void => {
    for (const d of live) stopSync(d);
    live.clear();
  };
  process.on('exit', stopAll);
  // The daemons run in their own session, so a Ctrl-C to the test runner does not reach them: stop them here.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      stopAll();
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

function run(args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', [SCRIPT, ...args], { timeout: timeoutMs, maxBuffer: 1 << 22 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

function tail(dir: string): string {
  const r = spawnSync('bash', ['-c', 'for f in "$1"/log/*; do echo "--- $f"; tail -n 20 "$f"; done', '_', dir], { encoding: 'utf8' });
  return r.stdout ?? '';
}

/** Starts radosgw and creates `bucket` (default `argus-test`). Retries once on a port taken in between. */
export async function startRadosgw(opts: { bucket?: string } = {}): Promise<RunningRadosgw> {
  hook();
  const t0 = performance.now();
  for (let attempt = 1; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'argus-peer-radosgw-'));
    live.add(dir);
    const port = await freePort();
    const res = await run(['start', dir, String(port)], START_TIMEOUT_MS);
    if (res.code !== 0) {
      const logs = tail(dir);
      stopSync(dir);
      live.delete(dir);
      if (attempt < 2 && /address already in use|bind/i.test(res.stderr + logs)) continue;
      throw new Error(`radosgw.sh start failed (exit ${res.code}):\n${res.stderr}\n${logs}`);
    }
    const [endpoint, accessKeyId, secretAccessKey] = res.stdout.trim().split(/\s+/);
    if (!endpoint || !accessKeyId || !secretAccessKey) throw new Error(`radosgw.sh start printed ${JSON.stringify(res.stdout)}`);
    let stopping: Promise<void> | null = null;
    const peer: RunningRadosgw = {
      endpoint,
      accessKeyId,
      secretAccessKey,
      region: 'us-east-1',
      bucket: opts.bucket ?? 'argus-test',
      dir,
      startMs: 0,
      logs: () => tail(dir),
      stop: () => {
        stopping ??= (async () => {
          const r = await run(['stop', dir], 60_000);
          live.delete(dir);
          rmSync(dir, { recursive: true, force: true });
          if (r.code !== 0) throw new Error(`radosgw.sh stop failed (exit ${r.code}): ${r.stderr}`);
        })();
        return stopping;
      },
    };
    const client = new S3Client({
      endpoint,
      region: peer.region,
      forcePathStyle: true,
      credentials: { accessKeyId, secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    try {
      await client.send(new CreateBucketCommand({ Bucket: peer.bucket }));
    } catch (err) {
      const logs = peer.logs();
      await peer.stop().catch(() => undefined);
      throw new Error(`radosgw: creating bucket ${peer.bucket} failed: ${(err as Error).message}\n${logs}`);
    } finally {
      client.destroy();
    }
    peer.startMs = Math.round(performance.now() - t0);
    return peer;
  }
}
