// Service discovery: static groups, the file_sd format (JSON and YAML, strict, fuzzed), and file watching
// (changes picked up through fs.watch and through refresh_interval; a broken file keeps its last targets).
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  FILEPATH_LABEL,
  FileDiscovery,
  parseTargetGroups,
  staticGroups,
  TargetGroupError,
  type TargetGroup,
} from '../../src/agent/discovery/index.js';
import { labelsFromObject, labelsToObject } from '../../src/model/labels.js';
import { createLogger } from '../../src/util/log.js';

function recordingLogger(): { logger: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger('debug', {}, (l) => lines.push(l)), lines };
}

/** Polls `cond` every 10 ms for at most `ms`. */
async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const addresses = (groups: readonly TargetGroup[]): string[] => groups.flatMap((g) => g.targets.map((t) => labelsToObject(t).__address__!)).sort();

describe('target groups', () => {
  it('static_configs become one group per entry, sources by index', () => {
    const groups = staticGroups([
      { targets: ['a:1', 'b:2'], labels: labelsFromObject({ env: 'prod' }) },
      { targets: ['c:3'], labels: labelsFromObject({}) },
    ]);
    assert.deepEqual(
      groups.map((g) => [g.source, g.targets.map((t) => [...t]), labelsToObject(g.labels)]),
      [
        ['0', [['__address__', 'a:1'], ['__address__', 'b:2']], { env: 'prod' }],
        ['1', [['__address__', 'c:3']], {}],
      ],
    );
  });

  it('reads JSON and YAML file_sd content; YAML scalars keep their text', () => {
    const json = parseTargetGroups('[{"targets":["h:1","h:2"],"labels":{"env":"dev"}},{"targets":[]}]', 'json', '/sd/a.json');
    assert.deepEqual(json.map((g) => g.source), ['/sd/a.json:0', '/sd/a.json:1']);
    assert.deepEqual(addresses(json), ['h:1', 'h:2']);
    assert.deepEqual(labelsToObject(json[0]!.labels), { env: 'dev' });
    const yaml = parseTargetGroups('- targets: [h:9]\n  labels:\n    rack: 007\n    ok: yes\n', 'yaml', '/sd/b.yml');
    assert.deepEqual(labelsToObject(yaml[0]!.labels), { rack: '007', ok: 'yes' });
    assert.deepEqual(parseTargetGroups('null', 'json', 'x.json'), []);
    assert.deepEqual(parseTargetGroups('', 'yaml', 'x.yml'), []);
  });

  it('rejects malformed files with the file and the element named', () => {
    const bad: [string, 'json' | 'yaml', RegExp][] = [
      ['{"targets":[]}', 'json', /x: expected a list of target groups, got a mapping/],
      ['[{"targets":["a"],"lables":{}}]', 'json', /x: group 0: unknown field "lables"/],
      ['[{"targets":[1]}]', 'json', /x: group 0: targets\[0\] must be a string, got number 1/],
      ['[{"targets":"a"}]', 'json', /"targets" must be a list of strings/],
      ['[{"targets":[],"labels":{"a":1}}]', 'json', /label "a" must have a string value, got number 1/],
      ['[{"targets":[],"labels":{"":"v"}}]', 'json', /"" is not a valid label name/],
      ['[null]', 'json', /group 0: nil target group item found/],
      ['[{"targets":[', 'json', /x: invalid JSON/],
      ['- targets: [a\n', 'yaml', /x: invalid YAML/],
      ['- labels: [a]\n', 'yaml', /"labels" must be a mapping/],
    ];
    for (const [content, format, re] of bad) {
      assert.throws(() => parseTargetGroups(content, format, 'x'), (e: unknown) => e instanceof TargetGroupError && re.test((e as Error).message), content);
    }
  });

  it('fuzz: any text gives groups or a TargetGroupError, never anything else', () => {
    const jsonish = fc.oneof(
      fc.string(),
      fc.json(),
      fc.jsonValue().map((v) => JSON.stringify([v])),
      fc.jsonValue().map((v) => JSON.stringify([{ targets: v, labels: v }])),
    );
    fc.assert(
      fc.property(jsonish, fc.constantFrom<'json' | 'yaml'>('json', 'yaml'), (text, format) => {
        try {
          const groups = parseTargetGroups(text, format, 'f');
          for (const g of groups) for (const t of g.targets) assert.equal(t[0], '__address__');
        } catch (err) {
          if (!(err instanceof TargetGroupError)) throw err;
          assert.match(err.message, /^f: /);
        }
      }),
      { numRuns: 800 },
    );
  });

  it('property: valid groups written as JSON or YAML read back to the same targets and labels', () => {
    const name = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,8}$/);
    const group = fc.record({
      targets: fc.array(fc.string({ minLength: 1, maxLength: 12 }), { maxLength: 4 }),
      labels: fc.dictionary(name, fc.string({ minLength: 1, maxLength: 10 }), { maxKeys: 4 }),
    });
    fc.assert(
      fc.property(fc.array(group, { maxLength: 4 }), (gs) => {
        const json = parseTargetGroups(JSON.stringify(gs), 'json', 'f.json');
        // JSON is valid YAML 1.2 flow syntax for these values; the YAML reader must agree.
        const yaml = parseTargetGroups(JSON.stringify(gs), 'yaml', 'f.yml');
        for (const got of [json, yaml]) {
          assert.equal(got.length, gs.length);
          got.forEach((g, i) => {
            assert.deepEqual(g.targets.map((t) => t[1]), gs[i]!.targets);
            assert.deepEqual(labelsToObject(g.labels), Object.fromEntries(Object.entries(gs[i]!.labels)));
          });
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('file discovery', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'argus-filesd-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Writes atomically (as config management tools do) so a watcher never sees half a file. */
  function put(path: string, content: string): void {
    writeFileSync(path + '.tmp', content);
    renameSync(path + '.tmp', path);
  }

  it('globs JSON and YAML files, labels each group with __meta_filepath, and follows edits through fs.watch', async () => {
    const sub = join(dir, 'watch');
    mkdirSync(sub);
    put(join(sub, 'a.json'), JSON.stringify([{ targets: ['a:1'], labels: { team: 'x' } }]));
    put(join(sub, 'b.yml'), '- targets: ["b:1"]\n');
    put(join(sub, 'ignored.txt'), 'not matched by the patterns');
    const updates: TargetGroup[][] = [];
    const { logger } = recordingLogger();
    // refresh_interval of an hour: only the watch can notice the edits in time.
    const d = new FileDiscovery({ files: [join(sub, '*.json'), join(sub, '*.yml')], refresh_interval: 3_600_000 }, logger);
    try {
      await d.start((g) => updates.push([...g]));
      assert.equal(updates.length, 1);
      assert.deepEqual(addresses(updates[0]!), ['a:1', 'b:1']);
      const a = updates[0]!.find((g) => g.source === `${join(sub, 'a.json')}:0`)!;
      assert.deepEqual(labelsToObject(a.labels), { team: 'x', [FILEPATH_LABEL]: join(sub, 'a.json') });

      put(join(sub, 'a.json'), JSON.stringify([{ targets: ['a:1', 'a:2'] }]));
      await waitFor(() => addresses(updates.at(-1)!).includes('a:2'), 3000, 'the edit of a.json');
      put(join(sub, 'c.json'), JSON.stringify([{ targets: ['c:1'] }]));
      await waitFor(() => addresses(updates.at(-1)!).includes('c:1'), 3000, 'the new file c.json');
      unlinkSync(join(sub, 'b.yml'));
      await waitFor(() => !addresses(updates.at(-1)!).includes('b:1'), 3000, 'the removal of b.yml');
      assert.deepEqual(addresses(updates.at(-1)!), ['a:1', 'a:2', 'c:1']);
    } finally {
      d.stop();
    }
  });

  it('a broken file keeps its last good targets and the error names the file', async () => {
    const sub = join(dir, 'broken');
    mkdirSync(sub);
    const file = join(sub, 't.json');
    put(file, JSON.stringify([{ targets: ['good:1'] }]));
    const updates: TargetGroup[][] = [];
    const { logger, lines } = recordingLogger();
    const d = new FileDiscovery({ files: [join(sub, '*.json')], refresh_interval: 3_600_000 }, logger);
    try {
      await d.start((g) => updates.push([...g]));
      put(file, '[{"targets": ["half');
      await waitFor(() => lines.some((l) => l.includes('level=error') && l.includes(file)), 3000, 'the error log naming the file');
      assert.deepEqual(addresses(updates.at(-1)!), ['good:1']);
      assert.equal(d.stats.readErrors >= 1, true);
      const line = lines.find((l) => l.includes('level=error'))!;
      assert.match(line, /keeping the targets of its last good read/);
      assert.match(line, /invalid JSON/);
      assert.match(line, /kept_targets=1/);
      put(file, JSON.stringify([{ targets: ['fixed:1'] }]));
      await waitFor(() => addresses(updates.at(-1)!).includes('fixed:1'), 3000, 'the repaired file');
    } finally {
      d.stop();
    }
  });

  it('refresh_interval finds files in a directory that did not exist (nothing to watch) at start', async () => {
    const sub = join(dir, 'later');
    const updates: TargetGroup[][] = [];
    const d = new FileDiscovery({ files: [join(sub, '*.yaml')], refresh_interval: 100 }, recordingLogger().logger);
    try {
      await d.start((g) => updates.push([...g]));
      assert.deepEqual(addresses(updates.at(-1) ?? []), []);
      mkdirSync(sub);
      put(join(sub, 'x.yaml'), '- targets: [late:1]\n');
      await waitFor(() => addresses(updates.at(-1) ?? []).includes('late:1'), 3000, 'the periodic refresh');
      assert.ok(d.stats.refreshes >= 2);
    } finally {
      d.stop();
    }
  });
});
