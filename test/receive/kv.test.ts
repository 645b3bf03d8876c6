/**
 * One contract for the HA tracker KV: the memory backend and the etcd backend (against a real etcd started
 * by the peer harness) must pass the same tests.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Etcd3 } from 'etcd3';
import { KVClosedError, type KV } from '../../src/receive/ha/kv.js';
import { createEtcdKV } from '../../src/receive/ha/kv-etcd.js';
import { createMemoryKV, MemoryKVStore } from '../../src/receive/ha/kv-memory.js';
import { requirePeer, startEtcd } from '../support/peers.js';

interface Val {
  n: number;
  tag?: string;
}

/** A fresh, isolated keyspace; client() opens another client on it (another receiver, in production). */
type Keyspace = () => { client(): KV<Val> };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, timeoutMs = 5000, poke?: () => Promise<unknown>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    if (poke) await poke();
    await sleep(poke ? 50 : 5);
  }
}

type Ev = [string, Val | null];

/**
 * Watch `prefix` on `watcher`; resolve once the watch provably sees writes from `writer` (probe puts under
 * the prefix), since watchPrefix() returns before an etcd watch is attached. Probe events are filtered out.
 */
async function watchReady(watcher: KV<Val>, writer: KV<Val>, prefix: string): Promise<{ events: Ev[]; stop: () => void }> {
  const probe = `${prefix}~probe`;
  let probed = false;
  const events: Ev[] = [];
  const stop = watcher.watchPrefix(prefix, (k, v) => {
    if (k === probe) probed = true;
    else events.push([k, v]);
  });
  await until('watch to attach', () => probed, 10_000, () => writer.cas(probe, (c) => ({ n: (c?.n ?? 0) + 1 })));
  return { events, stop };
}

async function contract(t: TestContext, keyspace: Keyspace): Promise<void> {
  const opened: KV<Val>[] = [];
  const ks = (): { client(): KV<Val> } => {
    const k = keyspace();
    return {
      client: () => {
        const c = k.client();
        opened.push(c);
        return c;
      },
    };
  };
  try {
    await subtests(t, ks);
  } finally {
    // Here, not in t.after: the etcd under test must still be up while watches are cancelled.
    await Promise.all(opened.map((c) => c.close()));
  }
}

async function subtests(t: TestContext, ks: Keyspace): Promise<void> {
  await t.test('get of a missing key is null; list of an empty prefix is empty', async () => {
    const kv = ks().client();
    assert.equal(await kv.get('nope'), null);
    assert.equal((await kv.list('nope/')).size, 0);
    await assert.rejects(kv.get(''), TypeError);
  });

  await t.test('cas creates a missing key', async () => {
    const s = ks();
    const a = s.client();
    let seen: Val | null | undefined;
    const stored = await a.cas('k', (cur) => {
      seen = cur;
      return { n: 1, tag: 'first' };
    });
    assert.equal(seen, null);
    assert.deepEqual(stored, { n: 1, tag: 'first' });
    assert.deepEqual(await a.get('k'), { n: 1, tag: 'first' });
    assert.deepEqual(await s.client().get('k'), { n: 1, tag: 'first' }, 'visible to another client');
  });

  await t.test('cas updates from the current value', async () => {
    const kv = ks().client();
    await kv.cas('k', () => ({ n: 1 }));
    const stored = await kv.cas('k', (cur) => ({ n: (cur?.n ?? 0) + 41 }));
    assert.deepEqual(stored, { n: 42 });
    assert.deepEqual(await kv.get('k'), { n: 42 });
  });

  await t.test('cas returning null leaves the value (or its absence) unchanged', async () => {
    const kv = ks().client();
    assert.equal(await kv.cas('absent', () => null), null);
    assert.equal(await kv.get('absent'), null);
    assert.equal((await kv.list('absent')).size, 0);

    await kv.cas('k', () => ({ n: 7 }));
    const stored = await kv.cas('k', (cur) => {
      cur!.n = 999; // mutating the argument must not leak into the store or the result
      return null;
    });
    assert.deepEqual(stored, { n: 7 });
    assert.deepEqual(await kv.get('k'), { n: 7 });
  });

  await t.test('values handed out are copies', async () => {
    const kv = ks().client();
    const stored = await kv.cas('k', () => ({ n: 1 }));
    stored!.n = 100;
    const got = await kv.get('k');
    got!.n = 200;
    (await kv.list('')).get('k')!.n = 300;
    assert.deepEqual(await kv.get('k'), { n: 1 });
  });

  await t.test('concurrent cas from two clients loses no increment', async (t) => {
    const s = ks();
    const a = s.client();
    const b = s.client();
    const perClient = 20;
    let calls = 0;
    const inc = (kv: KV<Val>): Promise<Val | null> =>
      kv.cas('counter', (cur) => {
        calls++;
        return { n: (cur?.n ?? 0) + 1 };
      });
    const results = await Promise.all([
      ...Array.from({ length: perClient }, () => inc(a)),
      ...Array.from({ length: perClient }, () => inc(b)),
    ]);
    assert.deepEqual(await a.get('counter'), { n: 2 * perClient });
    // Each successful cas stored a distinct count.
    assert.deepEqual(
      results.map((r) => r!.n).sort((x, y) => x - y),
      Array.from({ length: 2 * perClient }, (_, i) => i + 1),
    );
    t.diagnostic(`${2 * perClient} increments took ${calls} update calls (the excess are retried conflicts)`);
  });

  await t.test('delete removes a key; deleting a missing key is fine', async () => {
    const kv = ks().client();
    await kv.cas('k', () => ({ n: 1 }));
    await kv.delete('k');
    assert.equal(await kv.get('k'), null);
    await kv.delete('k');
    await kv.delete('never');
  });

  await t.test('list returns exactly the keys under the prefix, with full keys', async () => {
    const kv = ks().client();
    for (const [k, n] of [['ha/c1', 1], ['ha/c2', 2], ['ha/c3/r', 3], ['hax', 4], ['h', 5], ['other/ha/c1', 6]] as const) {
      await kv.cas(k, () => ({ n }));
    }
    const got = await kv.list('ha/');
    assert.deepEqual(
      [...got.entries()].sort(),
      [
        ['ha/c1', { n: 1 }],
        ['ha/c2', { n: 2 }],
        ['ha/c3/r', { n: 3 }],
      ],
    );
    assert.equal((await kv.list('')).size, 6);
  });

  await t.test('watch sees puts and deletes from another client, in order, and stops', async () => {
    const s = ks();
    const writer = s.client();
    const watcher = s.client();
    const { events, stop } = await watchReady(watcher, writer, 'ha/');

    await writer.cas('ha/c1', () => ({ n: 1 }));
    await writer.cas('ha/c1', (c) => ({ n: c!.n + 1 }));
    await writer.cas('ha/c1', () => null); // no write, no event
    await writer.cas('elsewhere', () => ({ n: 9 })); // outside the prefix
    await writer.delete('ha/c1');
    await writer.delete('ha/missing'); // nothing deleted, no event
    await writer.cas('ha/c2', () => ({ n: 5 }));
    await until('last event', () => events.some(([k]) => k === 'ha/c2'));
    await sleep(50); // room for any stray event to show up
    assert.deepEqual(events, [
      ['ha/c1', { n: 1 }],
      ['ha/c1', { n: 2 }],
      ['ha/c1', null],
      ['ha/c2', { n: 5 }],
    ]);

    // After stop, nothing more; a second watch proves the later writes were delivered to watchers.
    stop();
    const second = await watchReady(watcher, writer, 'ha/');
    await writer.cas('ha/c3', () => ({ n: 3 }));
    await until('second watch', () => second.events.length > 0);
    await sleep(50);
    assert.equal(events.length, 4);
    second.stop();
  });

  await t.test('watch callbacks run asynchronously and errors in them do not stop the watch', async () => {
    const s = ks();
    const kv = s.client();
    const { events, stop } = await watchReady(kv, kv, 'w/');
    let throws = true;
    const stop2 = kv.watchPrefix('w/', () => {
      if (throws) {
        throws = false;
        throw new Error('callback failure (expected in this test)');
      }
    });
    await sleep(100); // let the second watch attach too
    const origError = console.error;
    console.error = () => undefined; // the backend reports the callback error; keep test output clean
    try {
      const p = kv.cas('w/a', () => ({ n: 1 }));
      assert.equal(events.length, 0, 'no callback inside the writing call');
      await p;
      await kv.cas('w/b', () => ({ n: 2 }));
      await until('both events', () => events.length === 2);
    } finally {
      console.error = origError;
      stop();
      stop2();
    }
  });

  await t.test('close: calls reject, watches fall silent, other clients carry on', async () => {
    const s = ks();
    const a = s.client();
    const b = s.client();
    const { events } = await watchReady(a, b, 'x/');
    await a.close();
    await a.close(); // idempotent
    await assert.rejects(a.get('x/k'), KVClosedError);
    await assert.rejects(a.cas('x/k', () => ({ n: 1 })), KVClosedError);
    await assert.rejects(a.delete('x/k'), KVClosedError);
    await assert.rejects(a.list('x/'), KVClosedError);
    assert.throws(() => a.watchPrefix('x/', () => undefined), KVClosedError);
    await b.cas('x/k', () => ({ n: 1 }));
    assert.deepEqual(await b.get('x/k'), { n: 1 });
    await sleep(100);
    assert.equal(events.length, 0);
  });
}

test('memory KV passes the KV contract', async (t) => {
  await contract(t, () => {
    const store = new MemoryKVStore();
    return { client: () => createMemoryKV<Val>({ store }) };
  });
});

test('etcd KV passes the KV contract', async (t) => {
  if (requirePeer(t, 'etcd') === null) return;
  const etcd = await startEtcd();
  t.after(() => etcd.stop());
  let n = 0;
  try {
    await contract(t, () => {
      // Each keyspace is its own namespace in the one etcd, as separate Argus deployments would be.
      const prefix = `argus-test/${++n}/`;
      return { client: () => createEtcdKV<Val>({ endpoints: [etcd.endpoint], prefix, requestTimeoutMs: 2000 }) };
    });

    await t.test('namespaces (client prefixes) are isolated', async () => {
      const a = createEtcdKV<Val>({ endpoints: [etcd.endpoint], prefix: 'tenant-a/' });
      const b = createEtcdKV<Val>({ endpoints: [etcd.endpoint], prefix: 'tenant-b/' });
      try {
        await a.cas('k', () => ({ n: 1 }));
        assert.equal(await b.get('k'), null);
        assert.deepEqual([...(await a.list('')).keys()], ['k']);
        assert.equal((await b.list('')).size, 0);
      } finally {
        await a.close();
        await b.close();
      }
    });
  } catch (e) {
    throw new Error(`${String(e)}\n--- etcd logs ---\n${etcd.logs()}`);
  }
});

test('etcd KV: a watch survives an etcd crash and restart', async (t) => {
  if (requirePeer(t, 'etcd') === null) return;
  const dataDir = mkdtempSync(join(tmpdir(), 'argus-kv-etcd-'));
  let etcd = await startEtcd({ dataDir });
  const { port, peerPort } = etcd;
  const opts = { endpoints: [etcd.endpoint], prefix: 'crash/', requestTimeoutMs: 1000 };
  const watcher = createEtcdKV<Val>(opts);
  const writer = createEtcdKV<Val>(opts);
  try {
    const { events } = await watchReady(watcher, writer, 'ha/');
    await writer.cas('ha/c1', () => ({ n: 1 }));
    await until('event before the crash', () => events.length === 1);

    etcd.kill9();
    await etcd.stop();
    await sleep(300); // long enough for both clients to notice the broken connection
    etcd = await startEtcd({ dataDir, port, peerPort });

    const t0 = Date.now();
    // The writer's first calls may fail while its connection recovers; a receiver would answer 5xx and retry.
    let wrote = false;
    await until(
      'a write after the restart',
      () => wrote,
      10_000,
      async () => {
        try {
          await writer.cas('ha/c1', (c) => ({ n: c!.n + 1 }));
          wrote = true;
        } catch {
          // etcd client still reconnecting
        }
      },
    );
    await until('the watch to deliver after the restart', () => events.length === 2, 10_000);
    assert.deepEqual(events, [
      ['ha/c1', { n: 1 }],
      ['ha/c1', { n: 2 }],
    ]);
    t.diagnostic(`recovered ${Date.now() - t0} ms after restart`);
  } catch (e) {
    throw new Error(`${String(e)}\n--- etcd logs ---\n${etcd.logs()}`);
  } finally {
    // Clients first: cancelling their watches needs a live etcd.
    await watcher.close();
    await writer.close();
    await etcd.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/** A TCP proxy whose connections the test can cut, to disconnect one client from etcd but not another. */
async function cuttableProxy(targetPort: number): Promise<{ url: string; cut(): void; restore(): void; close(): void }> {
  const sockets = new Set<Socket>();
  let open = true;
  const server = createServer((client) => {
    if (!open) return void client.destroy();
    const upstream = createConnection(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  const cut = (): void => {
    open = false;
    for (const s of sockets) s.destroy();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    cut,
    restore: () => {
      open = true;
    },
    close: () => {
      cut();
      server.close();
    },
  };
}

test('etcd KV: a watch cut off past a compaction resyncs (puts for what is there, deletes for what went)', async (t) => {
  if (requirePeer(t, 'etcd') === null) return;
  const etcd = await startEtcd();
  const proxy = await cuttableProxy(etcd.port);
  const watcher = createEtcdKV<Val>({ endpoints: [proxy.url], prefix: 'rs/', requestTimeoutMs: 1000 });
  const writer = createEtcdKV<Val>({ endpoints: [etcd.endpoint], prefix: 'rs/' });
  const raw = new Etcd3({ hosts: etcd.endpoint });
  const origError = console.error;
  try {
    await writer.cas('ha/a', () => ({ n: 1 }));
    await writer.cas('ha/b', () => ({ n: 1 }));
    const { events } = await watchReady(watcher, writer, 'ha/');

    proxy.cut();
    await sleep(200);
    await writer.delete('ha/a');
    await writer.cas('ha/b', () => ({ n: 2 }));
    await writer.cas('ha/c', () => ({ n: 3 }));
    // Compact away the history the watcher would need to resume where it left off.
    const { header } = await raw.get('anything').exec();
    await raw.kv.compact({ revision: header.revision, physical: true });
    const reported: string[] = [];
    console.error = (...args: unknown[]) => void reported.push(args.join(' ')); // the cancelled watch is reported
    proxy.restore();

    await until('resync events', () => events.length >= 3, 10_000);
    await sleep(50);
    const byKey = new Map(events);
    assert.equal(events.length, 3, JSON.stringify(events));
    assert.deepEqual(byKey.get('ha/a'), null);
    assert.deepEqual(byKey.get('ha/b'), { n: 2 });
    assert.deepEqual(byKey.get('ha/c'), { n: 3 });
    assert.ok(reported.some((m) => /cancelled.*resyncing/.test(m)), `went through the resync: ${reported.join('; ')}`);

    // And it keeps watching afterwards.
    await writer.cas('ha/d', () => ({ n: 4 }));
    await until('a live event after the resync', () => events.length === 4);
    assert.deepEqual(events[3], ['ha/d', { n: 4 }]);
  } finally {
    console.error = origError;
    await watcher.close();
    await writer.close();
    raw.close();
    proxy.close();
    await etcd.stop();
  }
});
