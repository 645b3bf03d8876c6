/** `argus receive`: the remote-write receiver with HA election, the durable head and its read API. */
import { COMMON_FLAGS, type Role } from './flags.js';
import { handleSignals, startServer } from './server-runtime.js';

export const receiveRole: Role = {
  name: 'receive',
  summary: 'Accept remote write 1.0/2.0 (HA replicas deduplicated), store it durably, ship blocks to a bucket if one is configured, serve the query API.',
  flags: [{ name: 'web.listen-address', help: 'Address to listen on for the HTTP API and remote write.', default: '0.0.0.0:19291' }, ...COMMON_FLAGS],
};

export async function runReceive(values: Record<string, unknown>): Promise<void> {
  handleSignals(await startServer(values, 'receive'));
}
