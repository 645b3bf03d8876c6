/** Starts the whole server (as `argus receive` would) inside the test process, on a free 127.0.0.1 port. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type Runtime } from '../../src/cmd/server-runtime.js';

export async function startArgusInProcess(configYaml: string, opts: { dir?: string } = {}): Promise<Runtime & { dir: string; stop(): Promise<void> }> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'argus-inproc-')));
  const cfgFile = join(dir, 'argus.yml');
  await writeFile(cfgFile, configYaml);
  const rt = await startServer(
    { 'web.listen-address': '127.0.0.1:0', 'storage.tsdb.path': join(dir, 'data'), 'config.file': cfgFile, 'log.level': process.env.ARGUS_TEST_LOG ?? 'error' },
    'receive',
  );
  return {
    ...rt,
    dir,
    async stop() {
      await rt.close();
      if (!opts.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}
