/** `argus all`: every role in one process on the embedded defaults (local disk, in-process KV). */
import { COMMON_FLAGS, type Role } from './flags.js';
import { handleSignals, startServer } from './server-runtime.js';
import { startDemo } from './demo.js';

export const allRole: Role = {
  name: 'all',
  summary: 'Run the whole system in one process: receiver (HA election), durable head, read API. Use --demo for a simulated HA pair.',
  flags: [
    { name: 'web.listen-address', help: 'Address to listen on.', default: '0.0.0.0:9090' },
    ...COMMON_FLAGS,
    { name: 'demo', help: 'Run a simulated HA pair (replicas "a" and "b" of cluster "demo") remote-writing to this process.', boolean: true },
  ],
};

export async function runAll(values: Record<string, unknown>): Promise<void> {
  const rt = await startServer(values, 'all');
  if (values.demo) {
    const demo = startDemo(rt.url, rt.logger);
    const close = rt.close;
    rt.close = async () => {
      demo.stop();
      await close();
    };
  }
  handleSignals(rt);
}
