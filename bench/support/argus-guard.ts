/** Argus children of a benchmark: killed (and their data dirs removed) if the benchmark process dies. */
import { rmSync } from 'node:fs';
import type { ArgusProcess } from '../../test/support/argus-process.js';

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
