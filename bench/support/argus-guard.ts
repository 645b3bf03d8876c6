/** Argus children of a benchmark: killed (and their data dirs removed) if the benchmark process dies. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startArgus, type ArgusProcess } from '../../test/support/argus-process.js';

export interface GuardedArgus {
  proc: ArgusProcess;
  dir: string;
}

const live = new Set<GuardedArgus>();
let hooked = false;

/** Registers a running Argus; returns a function to call once it is stopped and cleaned up. */
export function guardArgus(entry: GuardedArgus): () => void {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const a of live) {
        try {
          a.proc.child.kill('SIGKILL');
        } catch {
          // gone
        }
        rmSync(a.dir, { recursive: true, force: true });
      }
    });
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
  }
  live.add(entry);
  return () => live.delete(entry);
}

export interface BenchArgus {
  proc: ArgusProcess;
  /** The process's own data directory (a fresh temp dir). */
  dir: string;
  /** Call once the process has stopped: drops the guard and removes `dir`. */
  release(): void;
}

/**
 * Starts `argus <role>` for a benchmark in a fresh temp directory (`dirPrefix`), guarded as above; `args`
 * gets that directory and returns the flags (it may write files there first). With `cpuProfile`, the
 * environment's BENCH_ARGUS_CPU_PROF=DIR runs it under `node --cpu-prof` with the profile left in DIR;
 * BENCH_ARGUS_NODE_ARGS adds flags for node (space-separated) to every benchmarked Argus process.
 */
export async function startGuardedArgus(
  role: string,
  dirPrefix: string,
  args: (dir: string) => string[],
  opts: { cpuProfile?: boolean } = {},
): Promise<BenchArgus> {
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  const prof = opts.cpuProfile ? process.env.BENCH_ARGUS_CPU_PROF : undefined;
  // BENCH_ARGUS_NODE_ARGS: extra flags for node itself (e.g. V8 heap settings), space-separated.
  const nodeArgs = (process.env.BENCH_ARGUS_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  if (prof !== undefined && prof !== '') nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${resolve(prof)}`);
  let proc: ArgusProcess;
  try {
    proc = await startArgus(role, args(dir), { readyTimeoutMs: 60_000, nodeArgs });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const unguard = guardArgus({ proc, dir });
  return {
    proc,
    dir,
    release() {
      unguard();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
