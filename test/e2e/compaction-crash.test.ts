/**
 * Durability across head compaction: with a 1m block range, timestamps racing ahead and small WAL
 * segments, the receiver cuts blocks, checkpoints and deletes WAL segments every second while writers
 * stream; it is killed with SIGKILL at random moments (so also mid-compaction). After each restart every
 * acknowledged sample must be readable exactly once, from blocks, checkpoint and WAL together.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startArgus, type ArgusProcess } from '../support/argus-process.js';
import { encodeWriteV1, snappyCompress } from '../../src/codec/index.js';
import { labelOf, remoteReadMetric } from '../support/remote-read.js';
import { labelsFromObject } from '../../src/model/labels.js';

const ROUNDS = Number(process.env.ARGUS_COMPACTION_CRASH_ROUNDS ?? 8);
const WRITERS = 3;
const SERIES_PER_REQUEST = 10;
const SAMPLES_PER_SERIES = 5;
/** Each request covers 2.5s of sample time: a 1m block fills after ~24 requests per writer. */
const SPACING_MS = 500;

/** Every sample of metric `cc` as "writer/series@t" -> value, and how many came back twice. */
async function readAll(url: string): Promise<{ samples: Map<string, number>; dups: number }> {
  const samples = new Map<string, number>();
  let dups = 0;
  for (const s of await remoteReadMetric(url, 'cc')) {
    for (let i = 0; i < s.timestamps.length; i++) {
      const k = `${labelOf(s, 'w')}/${labelOf(s, 's')}@${s.timestamps[i]}`;
      if (samples.has(k)) dups++;
      samples.set(k, s.values[i]!);
    }
  }
  return { samples, dups };
}

test(`kill -9 during head compaction loses no acknowledged sample (${ROUNDS} rounds)`, { timeout: 600_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'argus-compaction-crash-'));
  const cfgFile = join(dir, 'argus.yml');
  await writeFile(cfgFile, 'storage:\n  tsdb:\n    block_range: 1m\n    wal_segment_size: 16KiB\n');
  const args = [`--storage.tsdb.path=${join(dir, 'data')}`, `--config.file=${cfgFile}`, '--log.level=warn'];
  const acked = new Map<string, number>();
  let nextT = 1_000_000;
  let argus: ArgusProcess | null = null;
  const check = async (round: number | string) => {
    const { samples, dups } = await readAll(argus!.url);
    let missing = 0;
    for (const [k, v] of acked) if (samples.get(k) !== v) missing++;
    assert.equal(missing, 0, `round ${round}: ${missing} of ${acked.size} acknowledged samples missing after restart\n${argus!.logs()}`);
    assert.equal(dups, 0, `round ${round}: samples returned twice`);
  };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      argus = await startArgus('receive', args);
      await check(round);
      let stop = false;
      const url = argus.url;
      const writer = async (w: number) => {
        while (!stop) {
          const t0 = nextT;
          nextT += SAMPLES_PER_SERIES * SPACING_MS;
          const batch = [];
          for (let s = 0; s < SERIES_PER_REQUEST; s++) {
            const ts = [...Array(SAMPLES_PER_SERIES).keys()].map((i) => t0 + i * SPACING_MS);
            batch.push({ labels: labelsFromObject({ __name__: 'cc', w: String(w), s: String(s) }), timestamps: ts, values: ts.map((t) => t * 2 + s) });
          }
          try {
            const res = await fetch(`${url}/api/v1/push`, {
              method: 'POST',
              body: snappyCompress(encodeWriteV1(batch)),
              headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy' },
            });
            if (res.status !== 204) assert.fail(`unexpected status ${res.status}: ${await res.text()}`);
            for (let s = 0; s < batch.length; s++) for (const t of batch[s]!.timestamps) acked.set(`${w}/${s}@${t}`, t * 2 + s);
          } catch (err) {
            if (!stop && (err as Error).message.startsWith('unexpected status')) throw err;
            return; // the process was killed
          }
        }
      };
      const writers = [...Array(WRITERS).keys()].map(writer);
      await new Promise((r) => setTimeout(r, 1000 + Math.random() * 2500));
      await argus.kill9();
      stop = true;
      await Promise.all(writers);
      argus = null;
    }
    argus = await startArgus('receive', args);
    await check('final');
    const tenantDir = join(dir, 'data', 'tenants', (await readdir(join(dir, 'data', 'tenants')))[0]!);
    const blocks = (await readdir(join(tenantDir, 'blocks'))).filter((n) => /^[0-9A-Z]{26}$/.test(n));
    const wal = await readdir(join(tenantDir, 'wal'));
    console.log(`compaction crash test: ${ROUNDS} rounds, ${acked.size} acknowledged samples, ${blocks.length} blocks, WAL: ${wal.join(' ')}`);
    assert.ok(blocks.length >= 2, `blocks were cut (${blocks.length})`);
    assert.ok(wal.some((n) => n.startsWith('checkpoint.')), 'the WAL was checkpointed');
  } finally {
    await argus?.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
