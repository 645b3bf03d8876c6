/** Starting and stopping the small HTTP(S) servers tests run on 127.0.0.1 (targets, receivers, relays). */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';

/** Listens on 127.0.0.1 (port 0: one the kernel picks) and returns the port; a failure to bind rejects. */
export async function listenLocal(server: HttpServer | HttpsServer, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address();
  return typeof a === 'object' && a !== null ? a.port : 0;
}

/** Closes the server and every connection it holds (idle keep-alive ones too); resolves once it is closed. */
export async function closeServer(server: HttpServer | HttpsServer): Promise<void> {
  const closed = new Promise<void>((r) => server.close(() => r()));
  server.closeAllConnections();
  await closed;
}
