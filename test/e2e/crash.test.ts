/**
 * Durability: a 2xx means fsynced. Writers stream remote-write requests while the receiver is killed with
 * SIGKILL at random moments; after each restart every acknowledged sample must be readable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startArgus, type ArgusProcess } from '../support/argus-process.js';
import { encodeWriteV1, snappyCompress } from '../../src/codec/index.js';
import { labelOf, remoteReadMetric } from '../support/remote-read.js';
import { labelsFromObject } from '../../src/model/labels.js';

const ROUNDS = Number(process.env.ARGUS_CRASH_ROUNDS ?? 20);
const WRITERS = 4;
const SERIES_PER_REQUEST = 20;
const SAMPLES_PER_SERIES = 5;

/** Every sample of metric `crash`, as "writer/series@t" -> value. */
async function readAll(url: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const s of await remoteReadMetric(url, 'crash')) {
    for (let i = 0; i < s.timestamps.length; i++) out.set(`${labelOf(s, 'w')}/${labelOf(s, 's')}@${s.timestamps[i]}`, s.values[i]!);
  }
  return out;
}

test(`kill -9 at random moments loses no acknowledged sample (${ROUNDS} rounds)`, { timeout: 600_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'argus-crash-'));
  const acked = new Map<string, number>();
  let nextT = 1_000_000;
  let argus: ArgusProcess | null = null;
  let totalRequests = 0;
  let killedInFlight = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      argus = await startArgus('receive', [`--storage.tsdb.path=${dir}`, '--log.level=warn']);
      // Everything acknowledged before the last crash must be there.
      const have = await readAll(argus.url);
      let missing = 0;
      for (const [k, v] of acked) if (have.get(k) !== v) missing++;
      assert.equal(missing, 0, `round ${round}: ${missing} of ${acked.size} acknowledged samples missing after restart\n${argus.logs()}`);

      let stop = false;
      const url = argus.url;
      const writer = async (w: number) => {
        while (!stop) {
          const t0 = nextT;
          nextT += SAMPLES_PER_SERIES;
          const batch = [];
          for (let s = 0; s < SERIES_PER_REQUEST; s++) {
            const ts = [...Array(SAMPLES_PER_SERIES).keys()].map((i) => t0 + i);
            batch.push({ labels: labelsFromObject({ __name__: 'crash', w: String(w), s: String(s) }), timestamps: ts, values: ts.map((t) => t * 2 + s) });
          }
          try {
            totalRequests++;
            const res = await fetch(`${url}/api/v1/push`, {
              method: 'POST',
              body: snappyCompress(encodeWriteV1(batch)),
              headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy' },
            });
            if (res.status === 204) {
              for (let s = 0; s < batch.length; s++) for (const t of batch[s]!.timestamps) acked.set(`${w}/${s}@${t}`, t * 2 + s);
            } else {
              assert.fail(`unexpected status ${res.status}: ${await res.text()}`);
            }
          } catch (err) {
            if (!stop && (err as Error).message.startsWith('unexpected status')) throw err;
            killedInFlight++;
            return; // connection died: the process was killed
          }
        }
      };
      const writers = [...Array(WRITERS).keys()].map(writer);
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 600));
      const victim = argus;
      await victim.kill9();
      stop = true;
      await Promise.all(writers);
      argus = null;
    }
    argus = await startArgus('receive', [`--storage.tsdb.path=${dir}`, '--log.level=warn']);
    const have = await readAll(argus.url);
    let missing = 0;
    for (const [k, v] of acked) if (have.get(k) !== v) missing++;
    console.log(`crash test: ${ROUNDS} kill -9 rounds, ${totalRequests} requests, ${acked.size} acknowledged samples, ${killedInFlight} requests cut by a kill, ${missing} missing`);
    assert.equal(missing, 0);
    assert.ok(acked.size > ROUNDS * 100, `too little was written to prove anything (${acked.size} samples)`);
  } finally {
    await argus?.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
