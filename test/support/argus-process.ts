/** Starts `argus <role>` as a child process from the TypeScript sources (the way a user runs it, minus the build). */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ArgusProcess {
  url: string;
  port: number;
  child: ChildProcess;
  logs(): string;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/** `opts.nodeArgs` go to node itself (e.g. `--cpu-prof`), before the program. */
export async function startArgus(
  role: string,
  args: string[],
  opts: { port?: number; readyTimeoutMs?: number; nodeArgs?: string[] } = {},
): Promise<ArgusProcess> {
  const port = opts.port ?? (await freePort());
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', 'src/cmd/main.ts', role, `--web.listen-address=127.0.0.1:${port}`, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`argus ${role} exited during startup:\n${out}`);
    try {
      const r = await fetch(`${url}/-/ready`);
      if (r.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`argus ${role} not ready within the timeout:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    child,
    logs: () => out,
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}
