// Property tests of the dedup iterator (fast-check): random replicas on a 15 s grid with random phases and
// random missed scrapes. What is asserted, and why it holds, is stated above each property.
//
// Notation: replica r scrapes slot k at T0 + k·I + δ_r; the merged output is m_0 < m_1 < …. The iterator's
// interval estimate d is the smallest of the last three deltas recorded within one replica, seeded with the
// smallest first delta of any replica. On a grid every such delta is a multiple of I, so d ≥ I always.
// With realistic outages (runs of at least two scrapes between misses, every slot scraped by someone, some
// replica's first two scrapes adjacent) d = I throughout: a delta longer than I is recorded only when the
// merge cannot switch or flaps (late again right after a switch), and with runs of two or more that never
// happens three times in a row, so a delta of I stays among the last three.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DedupIterator } from '../../src/query/index.js';
import { ValueType, type SampleIterator } from '../../src/storage/interface.js';
import { ArrayIterator } from '../../src/tsdb/head/index.js';
import { ApiError, parseDedupParams } from '../../src/api/params.js';

const I = 15_000;
const T0 = 1_700_000_040_000;

interface Rep {
  offset: number;
  slots: number[];
  ts: number[];
  vs: number[];
}

/** Replica r's sample of slot k has value r·1e6 + k (identifies both), or `value(r, k, t)` for counters. */
function build(offsets: number[], present: boolean[][], value?: (r: number, k: number, t: number) => number): Rep[] {
  return offsets.map((offset, r) => {
    const slots: number[] = [];
    present[r]!.forEach((p, k) => p && slots.push(k));
    const ts = slots.map((k) => T0 + k * I + offset);
    return { offset, slots, ts, vs: slots.map((k, i) => (value ? value(r, k, ts[i]!) : r * 1e6 + k)) };
  });
}

function iterators(reps: Rep[]): SampleIterator[] {
  return reps.map((r) => new ArrayIterator(Float64Array.from(r.ts), Float64Array.from(r.vs)));
}

function run(reps: Rep[], counter = false): { ts: number[]; vs: number[] } {
  const it = new DedupIterator(iterators(reps), counter);
  const ts: number[] = [];
  const vs: number[] = [];
  const limit = reps.reduce((n, r) => n + r.ts.length, 0) + 1;
  while (it.next() !== ValueType.None) {
    ts.push(it.atT());
    vs.push(it.atF());
    if (ts.length > limit) throw new Error('more merged samples than the replicas have');
  }
  return { ts, vs };
}

/** Some replica's first two scrapes are adjacent slots: the interval is visible at the start. */
function intervalVisible(reps: Rep[]): boolean {
  return reps.some((r) => r.slots.length >= 2 && r.slots[1]! - r.slots[0]! === 1);
}

const replicaCount = fc.integer({ min: 2, max: 3 });
const slotCount = fc.integer({ min: 3, max: 50 });

/**
 * Realistic outages: each replica alternates runs of scrapes (at least two in a row) and runs of misses;
 * then every slot nobody scraped is given to a replica that scraped a neighbouring slot (extending its run),
 * so that every slot is scraped by someone and runs of scrapes stay at least two long (one may be cut at the end).
 */
function runsPresence(R: number, n: number) {
  const runs = fc.array(fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 2, max: 8 })), { minLength: 1, maxLength: n });
  return fc.tuple(fc.array(runs, { minLength: R, maxLength: R }), fc.array(fc.boolean(), { minLength: R, maxLength: R })).map(([perReplica, startPresent]) => {
    const present: boolean[][] = perReplica.map((rs, r) => {
      const row: boolean[] = [];
      for (const [miss, scrape] of rs) {
        if (!(startPresent[r] && row.length === 0)) for (let i = 0; i < miss; i++) row.push(false);
        for (let i = 0; i < scrape; i++) row.push(true);
      }
      while (row.length < n) row.push(false);
      return row.slice(0, n);
    });
    for (let k = 0; k < n; k++) {
      if (present.some((row) => row[k])) continue;
      const left = present.find((row) => k > 0 && row[k - 1]);
      const right = present.find((row) => row[k + 1]);
      if (left) left[k] = true;
      else if (right) right[k] = true;
      else {
        present[0]![k] = true;
        if (k + 1 < n) present[0]![k + 1] = true;
      }
    }
    return present;
  });
}

/** Two replicas whose outages never meet: every two adjacent slots are both scraped by one of them. */
function overlappingPresence(n: number) {
  return fc.array(fc.integer({ min: 0, max: 1 }), { minLength: n - 1, maxLength: n - 1 }).map((owners) => {
    const present: boolean[][] = [Array(n).fill(false), Array(n).fill(false)];
    owners.forEach((r, k) => {
      present[r]![k] = true;
      present[r]![k + 1] = true;
    });
    return present;
  });
}

function anyPresence(R: number, n: number) {
  return fc.array(fc.array(fc.boolean(), { minLength: n, maxLength: n }), { minLength: R, maxLength: R });
}

function offsets(R: number, max: number) {
  return fc.array(fc.integer({ min: 0, max }), { minLength: R, maxLength: R });
}

/** Every merged sample is one of the replicas' own samples. */
function assertReal(m: { ts: number[]; vs: number[] }, reps: Rep[]): void {
  for (let i = 0; i < m.ts.length; i++) {
    const r = Math.floor(m.vs[i]! / 1e6);
    const k = m.vs[i]! % 1e6;
    assert.ok(reps[r] && reps[r]!.slots.includes(k) && T0 + k * I + reps[r]!.offset === m.ts[i], `sample ${i} is not a real sample`);
  }
}

function assertSpacing(ts: number[]): void {
  for (let i = 1; i < ts.length; i++) assert.ok(ts[i]! - ts[i - 1]! >= I / 2, `samples ${i - 1} and ${i} are ${ts[i]! - ts[i - 1]!} ms apart`);
}

// Phases within half an interval of each other, realistic outages (see above):
// the merged series is every slot exactly once, and it switches replica only when the one it follows misses
// the next slot. Why: with d = I a switch looks for samples more than I/2 after the last, which (phases
// differing by less than I/2) is the next slot of every other replica and never the current slot again.
test('property: every slot exactly once; switches only at a gap of the followed replica', () => {
  fc.assert(
    fc.property(
      replicaCount.chain((R) => slotCount.chain((n) => fc.tuple(offsets(R, I / 2 - 1), runsPresence(R, n)))),
      ([offs, present]) => {
        const reps = build(offs, present);
        fc.pre(intervalVisible(reps));
        const m = run(reps);
        assertReal(m, reps);
        assert.deepEqual(
          m.vs.map((v) => v % 1e6),
          present[0]!.map((_, k) => k),
        );
        assertSpacing(m.ts);
        for (let i = 1; i < m.vs.length; i++) {
          const from = Math.floor(m.vs[i - 1]! / 1e6);
          if (Math.floor(m.vs[i]! / 1e6) !== from) assert.equal(present[from]![i], false, `switched away from ${from} at slot ${i} without a gap`);
        }
      },
    ),
    { numRuns: 300 },
  );
});

// Any phases, realistic outages (see above). The merged timestamps contain every scrape
// of every replica except (a) duplicates: scrapes between two consecutive samples of the followed replica
// one interval apart (it did not miss that slot), and (b) the penalty window: scrapes at most I/2 after the
// last merged sample, skipped at a switch (or at the end) because they would be closer than half an interval.
// Why: the followed replica is stayed on while its next sample is within 1.5·d = 1.5·I, i.e. the next slot;
// otherwise the earliest other sample more than I/2 later is taken, so nothing in between is later than I/2.
test('property: merged timestamps ⊇ all scrapes minus duplicates of covered slots and the penalty window of a switch', () => {
  fc.assert(
    fc.property(
      replicaCount.chain((R) => slotCount.chain((n) => fc.tuple(offsets(R, I - 1), runsPresence(R, n)))),
      ([offs, present]) => {
        const reps = build(offs, present);
        fc.pre(intervalVisible(reps));
        const m = run(reps);
        assertReal(m, reps);
        assertSpacing(m.ts);
        const emitted = new Set(m.ts);
        for (const r of reps) {
          for (const u of r.ts) {
            if (emitted.has(u)) continue;
            // The merged sample before u (there is one: the first merged sample is the earliest scrape).
            let i = m.ts.length - 1;
            while (i >= 0 && m.ts[i]! > u) i--;
            assert.ok(i >= 0, `scrape at ${u} precedes the merged series`);
            const before = m.ts[i]!;
            const after = m.ts[i + 1];
            const sameReplica = after !== undefined && Math.floor(m.vs[i]! / 1e6) === Math.floor(m.vs[i + 1]! / 1e6);
            const duplicate = sameReplica && after - before === I;
            assert.ok(duplicate || u - before <= I / 2, `scrape at +${u - before} ms after a merged sample was dropped`);
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});

// Anything: any phases, any gaps (also shared ones), as long as some replica has two samples (else there is
// no interval to go by). Still only real samples, strictly increasing, never closer than I/2 (d ≥ I).
test('property: any gap pattern gives real, increasing samples never closer than half an interval', () => {
  fc.assert(
    fc.property(
      replicaCount.chain((R) => slotCount.chain((n) => fc.tuple(offsets(R, I - 1), anyPresence(R, n)))),
      ([offs, present]) => {
        const reps = build(offs, present);
        fc.pre(reps.some((r) => r.slots.length >= 2));
        const m = run(reps);
        assertReal(m, reps);
        assertSpacing(m.ts);
        const first = Math.min(...reps.map((r) => r.ts[0] ?? Infinity));
        assert.equal(m.ts[0], first);
      },
    ),
    { numRuns: 300 },
  );
});

// Counters. Each replica reads one counter C (non-decreasing in time) plus its own base (a replica that
// restarted counts lower). For any phases and gaps the merged counter never decreases: a switch never
// emits below the last value (the alignment is floored by it), and within one replica C does not decrease.
// When two replicas share a phase and their outages never meet (each switch goes to a replica that also
// scraped the last slot), it is exactly the counter of the replica the merge starts on: each switch aligns
// the new replica on its own scrape of that slot.
test('property: the merged counter never decreases, and equals the first replica’s counter when outages do not meet', () => {
  fc.assert(
    fc.property(
      replicaCount.chain((R) =>
        slotCount.chain((n) =>
          fc.tuple(
            offsets(R, I - 1),
            anyPresence(R, n),
            overlappingPresence(n),
            fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: R, maxLength: R }),
            fc.array(fc.integer({ min: 0, max: 50 }), { minLength: n * 15 + 16, maxLength: n * 15 + 16 }),
          ),
        ),
      ),
      ([offs, anyP, overlapping, bases, incs]) => {
        const C: number[] = [];
        incs.reduce((c, x) => (C.push(c + x), c + x), 0);
        const at = (t: number) => C[Math.floor((t - T0) / 1000)]!;
        // Any phases and gaps: never decreasing.
        const m = run(build(offs, anyP, (r, _k, t) => bases[r]! + at(t)), true);
        for (let i = 1; i < m.vs.length; i++) assert.ok(m.vs[i]! >= m.vs[i - 1]!, `counter decreased at ${i}`);
        // One phase, outages that do not meet: exactly the counter of the replica the merge starts on.
        const reps = build([0, 0], overlapping, (r, _k, t) => bases[r]! + at(t));
        const first = reps[0]!.slots[0] === 0 ? 0 : 1;
        const exact = run(reps, true);
        assert.deepEqual(exact.ts, overlapping[0]!.map((_, k) => T0 + k * I));
        assert.deepEqual(exact.vs, exact.ts.map((t) => bases[first]! + at(t)));
      },
    ),
    { numRuns: 200 },
  );
});

// seek: after the first next(), seek(t) lands on the first merged sample at or after t (it walks, so the
// choice of replica is that of plain iteration); as the first call it starts the merge at t.
test('property: seek agrees with next', () => {
  fc.assert(
    fc.property(
      replicaCount.chain((R) => slotCount.chain((n) => fc.tuple(offsets(R, I - 1), anyPresence(R, n), fc.array(fc.integer({ min: -I, max: 52 * I }), { minLength: 1, maxLength: 8 })))),
      ([offs, present, targets]) => {
        const reps = build(offs, present);
        const all = run(reps);
        const it = new DedupIterator(iterators(reps), false);
        if (it.next() === ValueType.None) return assert.equal(all.ts.length, 0);
        let pos = 0;
        for (const rel of targets.sort((a, b) => a - b)) {
          const t = T0 + rel;
          while (pos < all.ts.length && all.ts[pos]! < t) pos++;
          const vt = it.seek(t);
          if (pos === all.ts.length) assert.equal(vt, ValueType.None);
          else {
            assert.equal(vt, ValueType.Float);
            assert.equal(it.atT(), all.ts[pos]);
            assert.equal(it.atF(), all.vs[pos]);
          }
        }
        // First call: every sample from seek(t) on is real, increasing and at or after t.
        const t = T0 + targets[0]!;
        const fresh = new DedupIterator(iterators(reps), false);
        const out: number[] = [];
        const vs: number[] = [];
        for (let vt = fresh.seek(t); vt !== ValueType.None; vt = fresh.next()) {
          out.push(fresh.atT());
          vs.push(fresh.atF());
          if (out.length > 200) throw new Error('runaway');
        }
        assert.ok(out.every((x) => x >= t));
        assertReal({ ts: out, vs }, reps);
        if (reps.some((r) => r.ts.filter((x) => x >= t).length >= 2)) assertSpacing(out);
      },
    ),
    { numRuns: 300 },
  );
});

// The request parameters: any `dedup` text is either one of Go's ParseBool spellings or a bad_data error
// naming the parameter; `replicaLabels[]` replaces the configured labels (deduplicated), empty names rejected.
test('property: dedup / replicaLabels[] parsing never throws anything but a named bad_data error', () => {
  const GO_BOOLS = new Map([...['1', 't', 'T', 'TRUE', 'true', 'True'].map((s) => [s, true] as const), ...['0', 'f', 'F', 'FALSE', 'false', 'False'].map((s) => [s, false] as const)]);
  fc.assert(
    fc.property(
      fc.oneof(fc.string(), fc.constantFrom(...GO_BOOLS.keys(), '')),
      fc.array(fc.oneof(fc.string({ minLength: 0, maxLength: 8 }), fc.constantFrom('replica', '__replica__')), { maxLength: 4 }),
      fc.boolean(),
      (dedup, labels, dflt) => {
        const p = { get: (n: string) => (n === 'dedup' ? dedup : undefined), getAll: (n: string) => (n === 'replicaLabels[]' ? labels : []) };
        const defaults = { replicaLabels: ['__replica__'], dedup: dflt };
        let got: string[];
        try {
          got = parseDedupParams(p, defaults);
        } catch (err) {
          assert.ok(err instanceof ApiError && err.errorType === 'bad_data', String(err));
          // `dedup` is checked first.
          if (dedup !== '' && !GO_BOOLS.has(dedup)) assert.match(err.message, /^invalid parameter "dedup": strconv\.ParseBool: parsing ".*": invalid syntax$/s);
          else {
            assert.ok(labels.includes(''));
            assert.equal(err.message, 'invalid parameter "replicaLabels[]": empty label name');
          }
          return;
        }
        assert.ok((dedup === '' || GO_BOOLS.has(dedup)) && !labels.includes(''));
        const on = dedup === '' ? dflt : GO_BOOLS.get(dedup)!;
        assert.deepEqual(got, on ? [...new Set(labels.length > 0 ? labels : defaults.replicaLabels)] : []);
      },
    ),
    { numRuns: 500 },
  );
});
