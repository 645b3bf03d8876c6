/** File-system steps that durability depends on, shared by the WAL, block writers, the shipper, buckets and the agent. */
import { open } from 'node:fs/promises';

/**
 * fsyncs a directory, so that entries created, renamed or removed in it survive a crash (on Linux a file's
 * own fsync does not persist its directory entry).
 */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
