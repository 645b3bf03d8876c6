/** `argus all`: every role in one process on the embedded defaults (local disk, in-process KV). */
import { join } from 'node:path';
import { loadPrometheusConfig } from '../config/prometheus.js';
import { createLogger } from '../util/log.js';
import { COMMON_FLAGS, COMPACT_FLAGS, STORE_FLAGS, UsageError, logLevel, type Role } from './flags.js';
import { handleSignals, startServer } from './server-runtime.js';
import { DEMO_CONFIG, DemoPair } from './demo.js';

export const allRole: Role = {
  name: 'all',
  summary: 'Run the whole system in one process: receiver (HA election), durable head, read API. Use --demo for a live HA pair of agents.',
  flags: [
    { name: 'web.listen-address', help: 'Address to listen on.', default: '0.0.0.0:9090' },
    ...COMMON_FLAGS,
    ...COMPACT_FLAGS,
    ...STORE_FLAGS,
    {
      name: 'demo',
      help: 'Run an HA pair of agents (replicas "a" and "b" of cluster "demo") in this process: they scrape this server and a demo shop at /demo/metrics and remote-write here. Stop one with POST /demo/replicas/a/stop.',
      boolean: true,
    },
    { name: 'demo.config', help: `prometheus.yml the demo replicas load (127.0.0.1:9090 in it means this server). Default: the bundled ${DEMO_CONFIG}.` },
  ],
};

export async function runAll(values: Record<string, unknown>): Promise<void> {
  if (values['demo.config'] !== undefined && !values.demo) throw new UsageError('argus all: --demo.config needs --demo');
  let demo: DemoPair | null = null;
  if (values.demo) {
    // Built before the server so its routes are mounted there; the agents start once the port is bound.
    demo = new DemoPair({
      dataDir: join(String(values['storage.tsdb.path']), 'agents'),
      logger: createLogger(logLevel(values), { role: 'all' }),
      ...(values['demo.config'] !== undefined ? { configFile: String(values['demo.config']) } : {}),
    });
    // A bad demo file stops here, before anything starts (exit 2 naming the key path).
    await loadPrometheusConfig(demo.configFile, { agentMode: true });
  }
  const rt = await startServer(values, 'all', demo ? { extraRoutes: (app, deps) => demo.mount(app, deps.registry) } : {});
  if (demo !== null) {
    try {
      await demo.start(rt.url);
    } catch (err) {
      await rt.close();
      throw err;
    }
    const close = rt.close;
    rt.close = async () => {
      await demo.stop();
      await close();
    };
  }
  handleSignals(rt);
}
