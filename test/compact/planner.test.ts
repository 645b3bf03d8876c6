/** Planner table tests: levels, overlaps, gaps, the newest window, no-compact marks, groups. */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';

import { DEFAULT_RANGES, groupOf, planGroup, splitByRange } from '../../src/compact/index.js';
import type { BlockMeta } from '../../src/tsdb/block/index.js';

const H = 3_600_000;

let seq = 0;
/** A block over [a, b) hours; ULIDs sort in creation order. */
function b(a: number, z: number, extra: Partial<BlockMeta> = {}): BlockMeta {
  seq++;
  const ulid = `01H${String(seq).padStart(23, '0')}`;
  return { ulid, minTime: a * H, maxTime: z * H, stats: {}, compaction: { level: 1, sources: [ulid] }, version: 1, ...extra };
}

/** The plan as "kind [a-b) [c-d) …" in hours, or "none". */
function show(blocks: BlockMeta[], noCompact: string[] = [], ranges = DEFAULT_RANGES): string {
  const p = planGroup(blocks, new Set(noCompact), ranges);
  if (p === null) return 'none';
  return `${p.kind} ${p.blocks.map((x) => `[${x.minTime / H}-${x.maxTime / H})`).join(' ')}`;
}

describe('planner', () => {
  const cases: { name: string; blocks: () => BlockMeta[]; want: string; noCompact?: number[] }[] = [
    { name: 'no blocks', blocks: () => [], want: 'none' },
    { name: 'one block', blocks: () => [b(0, 2)], want: 'none' },
    { name: '4x2h filling 8h, newest not yet followed: left alone', blocks: () => [b(0, 2), b(2, 4), b(4, 6), b(6, 8)], want: 'none' },
    {
      name: '4x2h filling 8h and a newer block: 8h window compacted',
      blocks: () => [b(0, 2), b(2, 4), b(4, 6), b(6, 8), b(8, 10)],
      want: 'horizontal [0-2) [2-4) [4-6) [6-8)',
    },
    { name: '3x2h and one newer block in the next window: window may still grow', blocks: () => [b(0, 2), b(2, 4), b(4, 6), b(8, 10)], want: 'none' },
    {
      name: '3x2h with a gap and two newer blocks: window is in the past, compacted with its gap',
      blocks: () => [b(0, 2), b(2, 4), b(4, 6), b(8, 10), b(10, 12)],
      want: 'horizontal [0-2) [2-4) [4-6)',
    },
    {
      name: 'gap inside a full window: blocks spanning the window edges are taken',
      blocks: () => [b(0, 2), b(6, 8), b(8, 10)],
      want: 'horizontal [0-2) [6-8)',
    },
    { name: 'single block per window never compacts alone', blocks: () => [b(0, 2), b(8, 10), b(16, 18), b(24, 26)], want: 'none' },
    {
      name: 'overlap wins over horizontal compaction',
      blocks: () => [b(0, 2), b(2, 4), b(4, 6), b(6, 8), b(8, 10), b(9, 11)],
      want: 'vertical [8-10) [9-11)',
    },
    { name: 'two identical ranges (replicas) overlap', blocks: () => [b(0, 2), b(0, 2)], want: 'vertical [0-2) [0-2)' },
    {
      name: 'only the first run of overlaps is taken',
      blocks: () => [b(0, 2), b(1, 3), b(4, 6), b(5, 7)],
      want: 'vertical [0-2) [1-3)',
    },
    { name: 'a chain of overlaps is one run', blocks: () => [b(0, 2), b(1, 3), b(2.5, 4)], want: 'vertical [0-2) [1-3) [2.5-4)' },
    { name: 'a big block swallowing small ones', blocks: () => [b(0, 8), b(2, 4), b(6, 8)], want: 'vertical [0-8) [2-4) [6-8)' },
    { name: 'touching ranges do not overlap (maxTime exclusive)', blocks: () => [b(0, 2), b(2, 4)], want: 'none' },
    {
      name: 'second level: 6x8h fill 2d once a newer block exists',
      blocks: () => [b(0, 8), b(8, 16), b(16, 24), b(24, 32), b(32, 40), b(40, 48), b(48, 50)],
      want: 'horizontal [0-8) [8-16) [16-24) [24-32) [32-40) [40-48)',
    },
    {
      name: 'lower level first: an 8h window full of 2h blocks beats a 2d window',
      blocks: () => [b(0, 8), b(8, 16), b(16, 24), b(24, 32), b(32, 40), b(40, 42), b(42, 44), b(44, 46), b(46, 48), b(48, 50)],
      want: 'horizontal [40-42) [42-44) [44-46) [46-48)',
    },
    {
      name: 'a block larger than the window is skipped, the rest still compacts',
      blocks: () => [b(0, 10), b(10, 12), b(12, 14), b(14, 16), b(16, 18), b(18, 20)],
      want: 'horizontal [10-12) [12-14) [14-16)',
    },
    { name: 'blocks at the largest range stay', blocks: () => [b(0, 48), b(48, 96), b(96, 144)], want: 'none' },
    {
      name: 'negative times align down',
      blocks: () => [b(-8, -6), b(-6, -4), b(-4, -2), b(-2, 0), b(0, 2)],
      want: 'horizontal [-8--6) [-6--4) [-4--2) [-2-0)',
    },
    {
      name: 'no-compact block excluded from vertical compaction',
      blocks: () => [b(0, 2), b(1, 3), b(1, 3)],
      noCompact: [0],
      want: 'vertical [1-3) [1-3)',
    },
    {
      name: 'no-compact block splits a window; the run after it compacts',
      blocks: () => [b(0, 2), b(2, 4), b(4, 6), b(6, 8), b(8, 10)],
      noCompact: [1],
      want: 'horizontal [4-6) [6-8)',
    },
    {
      name: 'no-compact block splits a window; the run before it compacts',
      blocks: () => [b(0, 2), b(2, 4), b(4, 6), b(6, 8), b(8, 10)],
      noCompact: [2],
      want: 'horizontal [0-2) [2-4)',
    },
    { name: 'no-compact newest block still counts as newest', blocks: () => [b(0, 2), b(2, 4), b(4, 6), b(6, 8)], noCompact: [3], want: 'none' },
    {
      name: 'a failed compaction keeps its window out',
      blocks: () => [b(0, 2), { ...b(2, 4), compaction: { level: 1, failed: true } }, b(4, 6), b(6, 8), b(8, 10), b(10, 12), b(12, 14), b(14, 16), b(16, 18)],
      want: 'horizontal [8-10) [10-12) [12-14) [14-16)',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const blocks = c.blocks();
      const marked = (c.noCompact ?? []).map((i) => blocks[i]!.ulid);
      assert.equal(show(blocks, marked), c.want);
      // Listing order must not matter.
      assert.equal(show([...blocks].reverse(), marked), c.want, 'reversed input');
    });
  }

  test('custom ranges and their validation', () => {
    const blocks = [b(0, 1), b(1, 2), b(2, 3), b(3, 4)];
    assert.equal(show(blocks, [], [H, 2 * H]), 'horizontal [0-1) [1-2)');
    assert.throws(() => planGroup(blocks, new Set(), [2 * H, 3 * H]), /not a multiple of the previous range/);
    assert.throws(() => planGroup(blocks, new Set(), [0]), /not a positive integer/);
    // One range only: nothing to compact horizontally, overlaps still merge.
    assert.equal(show(blocks, [], [2 * H]), 'none');
    assert.equal(show([b(0, 2), b(1, 2)], [], [2 * H]), 'vertical [0-2) [1-2)');
  });

  test('splitByRange', () => {
    const min = (a: number, z: number): BlockMeta => ({ ...b(0, 1), minTime: a * 60000, maxTime: z * 60000 });
    const parts = splitByRange([min(0, 10), min(10, 20), min(50, 60), min(90, 100)], H / 2);
    assert.deepEqual(
      parts.map((p) => p.map((x) => [x.minTime / 60000, x.maxTime / 60000])),
      [[[0, 10], [10, 20]], [[50, 60]], [[90, 100]]],
    );
  });

  test('groups: external labels and resolution; replica labels ignored when configured', () => {
    const m = (labels: Record<string, string>, resolution = 0): BlockMeta => ({ ...b(0, 2), thanos: { labels, downsample: { resolution } } });
    const a = groupOf(m({ cluster: 'eu', replica: 'A' }));
    const bb = groupOf(m({ replica: 'B', cluster: 'eu' }));
    assert.notEqual(a.key, bb.key);
    assert.equal(a.key, '0@{cluster="eu",replica="A"}');
    const ad = groupOf(m({ cluster: 'eu', replica: 'A' }), ['replica']);
    const bd = groupOf(m({ replica: 'B', cluster: 'eu' }), ['replica']);
    assert.equal(ad.key, bd.key);
    assert.deepEqual(ad.labels, { cluster: 'eu' });
    assert.equal(groupOf(m({ cluster: 'eu' }, 300000)).key, '300000@{cluster="eu"}');
    assert.notEqual(groupOf(m({ cluster: 'eu' }, 300000)).key, groupOf(m({ cluster: 'eu' })).key);
    assert.equal(groupOf({ ...b(0, 2) }).key, '0@{}', 'no thanos section: raw, no labels');
    // Label values that look like the key syntax cannot collide.
    assert.notEqual(groupOf(m({ a: '1",b="2' })).key, groupOf(m({ a: '1', b: '2' })).key);
  });
});
