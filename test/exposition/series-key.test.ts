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
