/**
 * seriesKeyIs(k) — the scrape cache's in-place check — agrees with seriesKey() === k for every entry of
 * any input, in both formats: keys of this entry, of other entries, prefixes and extensions of it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Entry, OpenMetricsParser, TextParser, type ExpositionParser } from '../../src/exposition/index.js';

const names = fc.constantFrom('up', 'a', 'node_cpu_seconds_total', 'x_bucket', 'x');
const labelValue = fc.oneof(fc.constantFrom('', '0', 'idle', 'a"b', 'é'), fc.string({ maxLength: 6 }));
const line = fc
  .tuple(names, fc.array(fc.tuple(fc.constantFrom('cpu', 'mode', 'le', 'a'), labelValue), { maxLength: 3 }), fc.constantFrom('1', '0', 'NaN', '2.5e3'))
  .map(([n, ls, v]) => {
    const block = ls.length === 0 ? '' : `{${ls.map(([k, x]) => `${k}="${x.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
    return `${n}${block} ${v}\n`;
  });
const noise = fc.oneof(line, fc.constantFrom('# TYPE x gauge\n', '# HELP up h\n', '\n', '# c\n'), fc.string({ maxLength: 12 }).map((s) => s + '\n'));

/** Keys seen so far plus variations of the current one; checks the accessor against seriesKey() on each. */
function check(p: ExpositionParser, seen: string[]): void {
  for (let i = 0; i < 10_000; i++) {
    let e: Entry;
    try {
      e = p.next();
    } catch {
      return; // malformed input: nothing more to compare
    }
    if (e === Entry.EOF) return;
    const key = p.seriesKey();
    const probes = [...seen, key, key + ' ', key.slice(0, -1), '', 'x' + key.slice(1)];
    for (const k of probes) assert.equal(p.seriesKeyIs(k), e === Entry.Series && k === key, `entry ${e} key ${JSON.stringify(key)} probe ${JSON.stringify(k)}`);
    if (e === Entry.Series) seen.push(key);
  }
}

describe('exposition: seriesKeyIs', () => {
  it('(property) equals seriesKey() === k for text and OpenMetrics input', () => {
    fc.assert(
      fc.property(fc.array(noise, { maxLength: 12 }), fc.boolean(), (lines, om) => {
        const body = lines.join('') + (om ? '# EOF\n' : '');
        check(om ? new OpenMetricsParser(body) : new TextParser(Buffer.from(body, 'utf8')), []);
      }),
      { numRuns: 400 },
    );
  });

  it('a repeated body matches the keys of the previous parse position by position', () => {
    const body = 'a{x="1"} 1\na{x="2"} 2\nb 3\n';
    const first = new TextParser(body);
    const keys: string[] = [];
    while (first.next() !== Entry.EOF) keys.push(first.seriesKey());
    assert.deepEqual(keys, ['a{x="1"}', 'a{x="2"}', 'b']);
    const again = new TextParser(body);
    for (const k of keys) {
      assert.equal(again.next(), Entry.Series);
      assert.equal(again.seriesKeyIs(k), true);
      assert.equal(again.seriesKeyIs(k === 'b' ? 'a{x="1"}' : 'b'), false);
    }
  });
});

describe('exposition: label names are shared between parses', () => {
  it('labels() of the same series read twice are equal and correct (names come from the shared table the second time)', () => {
    const body = 'node_cpu_seconds_total{cpu="0",mode="some_long_mode_value_x"} 1\n';
    const read = (): readonly string[] => {
      const p = new TextParser(body);
      assert.equal(p.next(), Entry.Series);
      return p.labels();
    };
    const a = read();
    const b = read();
    assert.deepEqual(a, ['__name__', 'node_cpu_seconds_total', 'cpu', '0', 'mode', 'some_long_mode_value_x']);
    assert.deepEqual(b, a);
  });
});

/** Everything a caller can read of one entry (or the error that ended the input). */
function describeEntry(p: ExpositionParser, e: Entry): unknown {
  if (e !== Entry.Series) return { e, line: p.line(), name: p.metricName(), type: p.type(), help: p.help(), unit: p.unit() };
  return { e, line: p.line(), key: p.seriesKey(), labels: p.labels(), name: p.metricName(), family: p.familyName(), type: p.type(), v: Object.is(p.value(), NaN) ? 'NaN' : p.value(), t: p.timestamp() };
}

/**
 * Reads `body` the way the scrape loop does: before each entry, the key at the same series position of an
 * earlier parse is tried with nextSeriesIfKey; metadata entries are also checked with metadataIs against
 * what an earlier parse read at the same metadata position. Returns what every entry said.
 */
function readWithShortcuts(p: ExpositionParser, keys: string[], metas: [string, string][]): { entries: unknown[]; hits: number } {
  const entries: unknown[] = [];
  let series = 0;
  let meta = 0;
  let hits = 0;
  for (let i = 0; i < 10_000; i++) {
    let e: Entry;
    try {
      const k = keys[series];
      if (k !== undefined && !k.includes('\n') && p.nextSeriesIfKey(k)) {
        e = Entry.Series;
        hits++;
      } else e = p.next();
    } catch (err) {
      entries.push({ err: (err as Error).message });
      break;
    }
    if (e === Entry.EOF) break;
    if (e === Entry.Series) series++;
    if (e === Entry.Type || e === Entry.Help || e === Entry.Unit) {
      const m = metas[meta++];
      if (m !== undefined) {
        const value = e === Entry.Type ? p.type() : e === Entry.Help ? p.help() : p.unit();
        // metadataIs may say false when unsure, never true when the entry says something else.
        if (p.metadataIs(m[0], m[1])) assert.deepEqual([p.metricName(), value], m, 'metadataIs claimed a match');
      }
    }
    entries.push(describeEntry(p, e));
  }
  return { entries, hits };
}

function plainRead(p: ExpositionParser): { entries: unknown[]; keys: string[]; metas: [string, string][] } {
  const entries: unknown[] = [];
  const keys: string[] = [];
  const metas: [string, string][] = [];
  for (let i = 0; i < 10_000; i++) {
    let e: Entry;
    try {
      e = p.next();
    } catch (err) {
      entries.push({ err: (err as Error).message });
      break;
    }
    if (e === Entry.EOF) break;
    if (e === Entry.Series) keys.push(p.seriesKey());
    if (e === Entry.Type) metas.push([p.metricName(), p.type()]);
    if (e === Entry.Help) metas.push([p.metricName(), p.help()]);
    if (e === Entry.Unit) metas.push([p.metricName(), p.unit()]);
    entries.push(describeEntry(p, e));
  }
  return { entries, keys, metas };
}

const spacedLine = fc
  .tuple(names, fc.uniqueArray(fc.tuple(fc.constantFrom('cpu', 'mode', 'le', 'a'), labelValue), { maxLength: 3, selector: ([k]) => k }), fc.oneof({ weight: 30, arbitrary: fc.constantFrom('1', '0', 'NaN', '2.5e3') }, fc.constant('x')), fc.oneof({ weight: 30, arbitrary: fc.constantFrom(' ', '  ', '\t', ' {') }, fc.constant('')), fc.oneof({ weight: 30, arbitrary: fc.constantFrom('', ' 1000', ' -5') }, fc.constant(' 12a')))
  .map(([n, ls, v, sep, ts]) => {
    const block = ls.length === 0 ? '' : `{${ls.map(([k, x]) => `${k}="${x.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;
    return sep === ' {' ? `${n} ${block || '{}'} ${v}${ts}\n` : `${n}${block}${sep}${v}${ts}\n`;
  });
const metaLine = fc.constantFrom('# TYPE x gauge\n', '# TYPE x counter\n', '# HELP up h\n', '# HELP up h2\n', '# HELP up a\\\\b\n', '# HELP up a\\b\n', '# HELP x \n', '# TYPE up untyped\n');
const textLine = fc.oneof({ weight: 4, arbitrary: spacedLine }, metaLine, fc.constantFrom('\n', '# c\n', '  up 1\n'));

describe('exposition: the scrape shortcuts (nextSeriesIfKey, metadataIs)', () => {
  it('(property) reading with the keys and metadata of an earlier body says exactly what next() says', () => {
    let hits = 0;
    fc.assert(
      fc.property(fc.array(textLine, { maxLength: 14 }), fc.array(textLine, { maxLength: 14 }), fc.nat({ max: 13 }), fc.boolean(), (a, b, cut, same) => {
        // The second body is the first again, or the first with a part replaced (lines shift).
        const first = a.join('');
        const second = same ? first : [...a.slice(0, cut), ...b.slice(0, 3), ...a.slice(cut + 1)].join('');
        const earlier = plainRead(new TextParser(Buffer.from(first, 'utf8')));
        const want = plainRead(new TextParser(Buffer.from(second, 'utf8')));
        const got = readWithShortcuts(new TextParser(Buffer.from(second, 'utf8')), earlier.keys, earlier.metas);
        assert.deepEqual(got.entries, want.entries);
        hits += got.hits;
      }),
      { numRuns: 600 },
    );
    assert.ok(hits > 300, `the shortcut was taken ${hits} times`);
  });

  it('is not taken for "name {labels}" after a key "name", nor on input with invalid UTF-8, nor by the OpenMetrics parser', () => {
    const p = new TextParser('up {a="1"} 1\n');
    assert.equal(p.nextSeriesIfKey('up'), false);
    assert.equal(p.next(), Entry.Series);
    assert.deepEqual(p.labels(), ['__name__', 'up', 'a', '1']);
    const bad = new TextParser(Buffer.from([...Buffer.from('up{a="'), 0xff, ...Buffer.from('"} 1\n')]));
    assert.equal(bad.nextSeriesIfKey('up{a="\ufffd"}'), false);
    assert.throws(() => bad.next(), /invalid UTF-8/);
    const om = new OpenMetricsParser('up 1\n# EOF\n');
    assert.equal(om.nextSeriesIfKey('up'), false);
  });
});
