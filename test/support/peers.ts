/**
 * Real peers for interop tests and benchmarks: Prometheus, node exporter, VictoriaMetrics, etcd (Debian
 * packages, see ../shared/PEERS.md). Every server binds 127.0.0.1, keeps its state in a fresh temp dir that
 * stop() removes, logs into a bounded in-memory buffer, and is stopped by PID. Peers still running when the
 * process exits are SIGKILLed by an exit hook, so a failed test never leaks processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';
import { freePort, freePorts } from './ports.js';

export { freePort, freePorts };

export type PeerName = 'prometheus' | 'promtool' | 'node-exporter' | 'victoria-metrics' | 'etcd' | 'alertmanager' | 'radosgw';

/** Debian executable and package for each peer. */
const DEBIAN: Record<PeerName, { bin: string; pkg: string }> = {
  prometheus: { bin: 'prometheus', pkg: 'prometheus' },
  promtool: { bin: 'promtool', pkg: 'prometheus' },
  'node-exporter': { bin: 'prometheus-node-exporter', pkg: 'prometheus-node-exporter' },
  'victoria-metrics': { bin: 'victoria-metrics', pkg: 'victoria-metrics' },
  etcd: { bin: 'etcd', pkg: 'etcd-server' },
  alertmanager: { bin: 'prometheus-alertmanager', pkg: 'prometheus-alertmanager' },
  // Started by scripts/peers/radosgw.sh with ceph-mon and ceph-osd (test/support/radosgw.ts).
  radosgw: { bin: 'radosgw', pkg: 'radosgw ceph-mon ceph-osd ceph-common' },
};

const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;
const LOG_LIMIT = 64 * 1024;

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of the peer's executable (/usr/bin first, then PATH), or null when not installed. */
export function peerBinary(name: PeerName): string | null {
  const bin = DEBIAN[name].bin;
  const dirs = ['/usr/bin', ...(process.env.PATH ?? '').split(delimiter).filter((d) => d.startsWith('/'))];
  for (const d of dirs) {
    const p = join(d, bin);
    if (isExecutableFile(p)) return p;
  }
  return null;
}

/**
 * The peer's path, or — when it is missing — a failure under CI (where .ci/run must have installed it) and a
 * loud skip elsewhere. Callers return early on null.
 */
export function requirePeer(t: TestContext, name: PeerName): string | null {
  const p = peerBinary(name);
  if (p !== null) return p;
  const { bin, pkg } = DEBIAN[name];
  if (process.env.CI === 'true') {
    throw new Error(`peer ${name} is not installed (no ${bin} in /usr/bin or PATH); .ci/run installs it`);
  }
  const line = `PEER MISSING: ${name} not installed (apt-get install ${pkg})`;
  console.error(`\n${'!'.repeat(line.length + 8)}\n!!! ${line} !!!\n${'!'.repeat(line.length + 8)}\n`);
  t.skip(line);
  return null;
}

export interface RunningPeer {
  name: string;
  pid: number;
  /** Base URL, e.g. http://127.0.0.1:PORT */
  url: string;
  port: number;
  /** State directory (removed by stop() when the harness created it). */
  dir: string;
  /** SIGTERM, then SIGKILL after a few seconds; removes the state dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL now (crash simulation). Call stop() afterwards to reap and clean up. */
  kill9(): void;
  /** Recent stdout+stderr (bounded), for failure messages. */
  logs(): string;
}

/** Keeps the last LOG_LIMIT characters; peers can log a lot over a long benchmark. */
class LogBuffer {
  private text = '';
  private dropped = false;
  push(chunk: Buffer | string): void {
    this.text += chunk.toString();
    if (this.text.length > 2 * LOG_LIMIT) {
      this.text = this.text.slice(-LOG_LIMIT);
      this.dropped = true;
    }
  }
  toString(): string {
    const t = this.text.length > LOG_LIMIT ? this.text.slice(-LOG_LIMIT) : this.text;
    return (this.dropped || t.length < this.text.length ? '[… earlier output dropped …]\n' : '') + t;
  }
}

interface Live {
  child: ChildProcess;
  dir: string;
  ownsDir: boolean;
}
const live = new Set<Live>();
let hooked = false;

function killAllSync(): void {
  for (const p of live) {
    try {
      p.child.kill('SIGKILL');
    } catch {
      // already gone
    }
    if (p.ownsDir) rmSync(p.dir, { recursive: true, force: true });
  }
  live.clear();
}

function installExitHook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAllSync);
  // 'exit' does not run on a fatal signal; clean up, then restore the default action if nobody else handles it.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAllSync();
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Gone = reaped, no /proc entry, or a zombie (kill -0 still succeeds on those, see PEERS.md). */
function processGone(child: ChildProcess): boolean {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  if (child.pid === undefined) return true;
  try {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    return /^State:\s+Z/m.test(status);
  } catch {
    return true;
  }
}

async function waitGone(child: ChildProcess, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!processGone(child)) {
    if (Date.now() >= deadline) return false;
    await sleep(25);
  }
  return true;
}

/** One plain GET on a fresh connection (no keep-alive pool that could hold the event loop open). */
function httpGet(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 64 * 1024) body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

interface LaunchSpec {
  name: string;
  bin: string;
  args: string[];
  dir: string;
  ownsDir: boolean;
  port: number;
  readyPath: string;
  isReady(status: number, body: string): boolean;
}

class BindConflict extends Error {}

async function launch(spec: LaunchSpec): Promise<RunningPeer> {
  installExitHook();
  const logs = new LogBuffer();
  const child = spawn(spec.bin, spec.args, { cwd: spec.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let spawnError: Error | null = null;
  child.on('error', (e) => {
    spawnError = e;
  });
  child.stdout?.on('data', (d: Buffer) => logs.push(d));
  child.stderr?.on('data', (d: Buffer) => logs.push(d));
  // A peer a test forgot to stop must not keep the test process alive; the exit hook kills it.
  child.unref();
  (child.stdout as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  const entry: Live = { child, dir: spec.dir, ownsDir: spec.ownsDir };
  live.add(entry);

  const url = `http://127.0.0.1:${spec.port}`;
  let stopping: Promise<void> | null = null;
  const peer: RunningPeer = {
    name: spec.name,
    pid: child.pid ?? -1,
    url,
    port: spec.port,
    dir: spec.dir,
    logs: () => logs.toString(),
    kill9: () => {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    },
    stop: () => {
      stopping ??= (async () => {
        if (!processGone(child)) {
          child.kill('SIGTERM');
          if (!(await waitGone(child, STOP_GRACE_MS))) {
            child.kill('SIGKILL');
            if (!(await waitGone(child, STOP_GRACE_MS))) {
              throw new Error(`${spec.name} (pid ${child.pid}) survived SIGKILL\n${logs.toString()}`);
            }
          }
        }
        live.delete(entry);
        if (spec.ownsDir) rmSync(spec.dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer yet';
  for (;;) {
    if (spawnError !== null || processGone(child)) {
      // Give the pipes a moment to deliver the last words (usually why it died).
      await sleep(50);
      await peer.stop().catch(() => undefined);
      const why = spawnError !== null ? String(spawnError) : `exit code ${child.exitCode} signal ${child.signalCode}`;
      const text = logs.toString();
      const msg = `${spec.name} exited before ready (${why}): ${spec.bin} ${spec.args.join(' ')}\n--- logs ---\n${text}`;
      if (/address already in use/i.test(text)) throw new BindConflict(msg);
      throw new Error(msg);
    }
    try {
      const res = await httpGet(url + spec.readyPath, 1000);
      if (spec.isReady(res.status, res.body)) return peer;
      last = `HTTP ${res.status} ${res.body.slice(0, 200)}`;
    } catch (e) {
      last = String(e);
    }
    if (Date.now() >= deadline) {
      await peer.stop().catch(() => undefined);
      throw new Error(
        `${spec.name} not ready after ${READY_TIMEOUT_MS} ms (GET ${spec.readyPath}: ${last})\n--- logs ---\n${logs.toString()}`,
      );
    }
    await sleep(50);
  }
}

/** A fresh dir per peer, so parallel tests never share state. */
function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `argus-peer-${name}-`));
}

/** Retries with fresh ports when another process grabbed a port between freePort() and the peer's bind. */
async function launchWithFreshPorts(nPorts: number, make: (ports: number[]) => LaunchSpec): Promise<RunningPeer> {
  for (let attempt = 1; ; attempt++) {
    const spec = make(await freePorts(nPorts));
    try {
      return await launch(spec);
    } catch (e) {
      if (!(e instanceof BindConflict) || attempt >= 3) throw e;
    }
  }
}

function mustHave(name: PeerName): string {
  const p = peerBinary(name);
  if (p === null) throw new Error(`peer ${name} is not installed (apt-get install ${DEBIAN[name].pkg}); use requirePeer()`);
  return p;
}

/**
 * Prometheus with `config` as prometheus.yml in a temp dir (relative paths in the config resolve there),
 * TSDB under DIR/data, or under `dataDir` when given (the caller owns it: stop() leaves it, so a restart
 * or a prepared TSDB, e.g. backfilled with promtool, can be used). Extra `args` are appended
 * (e.g. --web.enable-remote-write-receiver). `agent: true` runs it in agent mode (`--enable-feature=agent`,
 * the WAL under `--storage.agent.path`, since agent mode refuses the TSDB flags).
 */
export async function startPrometheus(opts: { config: string; args?: string[]; dataDir?: string; agent?: boolean }): Promise<RunningPeer> {
  const bin = mustHave('prometheus');
  return launchWithFreshPorts(1, ([port]) => {
    const dir = tempDir('prometheus');
    const configFile = join(dir, 'prometheus.yml');
    writeFileSync(configFile, opts.config);
    return {
      name: 'prometheus',
      bin,
      dir,
      ownsDir: true,
      port: port!,
      args: [
        `--config.file=${configFile}`,
        ...(opts.agent === true ? ['--enable-feature=agent', `--storage.agent.path=${opts.dataDir ?? join(dir, 'data-agent')}`] : [`--storage.tsdb.path=${opts.dataDir ?? join(dir, 'data')}`]),
        `--web.listen-address=127.0.0.1:${port}`,
        ...(opts.args ?? []),
      ],
      readyPath: '/-/ready',
      isReady: (s) => s === 200,
    };
  });
}

/** node exporter: a real scrape target (~460 series). systemd collector off (no D-Bus here). */
export async function startNodeExporter(): Promise<RunningPeer> {
  const bin = mustHave('node-exporter');
  return launchWithFreshPorts(1, ([port]) => ({
    name: 'node-exporter',
    bin,
    dir: tempDir('node-exporter'),
    ownsDir: true,
    port: port!,
    args: [`--web.listen-address=127.0.0.1:${port}`, '--no-collector.systemd'],
    readyPath: '/metrics',
    isReady: (s) => s === 200,
  }));
}

/** Single-node VictoriaMetrics; 100y retention so old test timestamps are kept. Extra `args` are appended. */
export async function startVictoriaMetrics(opts: { args?: string[] } = {}): Promise<RunningPeer> {
  const bin = mustHave('victoria-metrics');
  return launchWithFreshPorts(1, ([port]) => {
    const dir = tempDir('victoria-metrics');
    return {
      name: 'victoria-metrics',
      bin,
      dir,
      ownsDir: true,
      port: port!,
      args: [`-storageDataPath=${join(dir, 'data')}`, `-httpListenAddr=127.0.0.1:${port}`, '-retentionPeriod=100y', ...(opts.args ?? [])],
      readyPath: '/health',
      isReady: (s) => s === 200,
    };
  });
}

/**
 * A one-member etcd. Pass `dataDir` and both ports to restart a stopped member on its old state (the caller
 * owns that dir; stop() leaves it); otherwise everything is fresh and removed on stop.
 */
export async function startEtcd(opts: { dataDir?: string; port?: number; peerPort?: number } = {}): Promise<
  RunningPeer & { endpoint: string; peerPort: number }
> {
  const bin = mustHave('etcd');
  const make = ([port, peerPort]: number[]): LaunchSpec & { peerPort: number } => {
    const ownsDir = opts.dataDir === undefined;
    const dir = opts.dataDir ?? tempDir('etcd');
    const client = `http://127.0.0.1:${port}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    return {
      name: 'etcd',
      bin,
      dir,
      ownsDir,
      port: port!,
      peerPort: peerPort!,
      args: [
        '--name=e1',
        `--data-dir=${join(dir, 'data')}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=e1=${peer}`,
        '--initial-cluster-state=new',
        // A lone member still waits out a randomised election timeout (0.1–1 s at the defaults) before it is
        // ready; 10 ms ticks make that 10–100 ms. Harmless with one member on loopback.
        '--heartbeat-interval=10',
        '--election-timeout=100',
      ],
      readyPath: '/health',
      isReady: (s, body) => {
        if (s !== 200) return false;
        try {
          return (JSON.parse(body) as { health?: unknown }).health === 'true';
        } catch {
          return false;
        }
      },
    };
  };
  let peerPort = 0;
  const remember = (ports: number[]): LaunchSpec => {
    const spec = make(ports);
    peerPort = spec.peerPort;
    return spec;
  };
  const started =
    opts.port === undefined && opts.peerPort === undefined
      ? await launchWithFreshPorts(2, remember)
      : await launch(remember([opts.port ?? (await freePort()), opts.peerPort ?? (await freePort())]));
  return Object.assign(started, { endpoint: started.url, peerPort });
}
