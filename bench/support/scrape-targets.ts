/**
 * Starts scrape-target-server.ts as its own process (so its CPU is neither the benchmark's nor an agent's)
 * and reads its served-sample counts. Killed with the benchmark process if that dies first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ServedStats } from './scrape-target-server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./scrape-target-server.ts', import.meta.url));

export interface TargetProcess {
  pid: number;
  ports: number[];
  controlUrl: string;
  stats(): Promise<ServedStats>;
  stop(): Promise<void>;
  logs(): string;
}

const live = new Set<ChildProcess>();
let hooked = false;

export async function startTargetProcess(opts: { targets: number; series: number; readyTimeoutMs?: number }): Promise<TargetProcess> {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, `--targets=${opts.targets}`, `--series=${opts.series}`], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-8000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const logs = (): string => `${out.slice(0, 500)}${err}`;
  let ready: { control: number; ports: number[] };
  try {
    ready = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready within ${opts.readyTimeoutMs ?? 30_000} ms`)), opts.readyTimeoutMs ?? 30_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const nl = out.indexOf('\n');
        if (nl < 0) return;
        clearTimeout(timer);
        try {
          resolve(JSON.parse(out.slice(0, nl)) as { control: number; ports: number[] });
        } catch {
          reject(new Error(`unexpected first line ${JSON.stringify(out.slice(0, Math.min(nl, 200)))}`));
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`exited during startup (code ${code}, signal ${signal})`));
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  } catch (e) {
    child.kill('SIGKILL');
    live.delete(child);
    throw new Error(`scrape target server (${opts.targets} targets x ${opts.series} series): ${(e as Error).message}\n${logs()}`);
  }
  if (ready.ports.length !== opts.targets) {
    child.kill('SIGKILL');
    live.delete(child);
    throw new Error(`scrape target server: asked for ${opts.targets} targets, it listens on ${ready.ports.length} ports`);
  }
  const controlUrl = `http://127.0.0.1:${ready.control}`;
  return {
    pid: child.pid ?? -1,
    ports: ready.ports,
    controlUrl,
    logs,
    async stats() {
      const res = await fetch(`${controlUrl}/stats`, { signal: AbortSignal.timeout(10_000) });
      if (res.status !== 200) throw new Error(`scrape target server: GET /stats answered ${res.status}`);
      return (await res.json()) as ServedStats;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      live.delete(child);
    },
  };
}
