/**
 * Runs a command-line tool (e.g. promtool) as a child of a benchmark: bounded in time (SIGKILL at the
 * deadline), output kept bounded, and killed if the benchmark process exits first.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const running = new Set<ChildProcess>();
let hooked = false;

export interface ToolResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  ms: number;
  /** The last ~16 KiB of stdout and stderr together. */
  output: string;
}

export function runTool(bin: string, args: readonly string[], opts: { timeoutMs: number; cwd?: string }): Promise<ToolResult> {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const c of running) c.kill('SIGKILL');
    });
  }
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(bin, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let out = '';
    const keep = (d: Buffer): void => {
      out = (out + d.toString()).slice(-16_384);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      running.delete(child);
      reject(new Error(`${bin}: could not start: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal, timedOut, ms: performance.now() - t0, output: out });
    });
  });
}
