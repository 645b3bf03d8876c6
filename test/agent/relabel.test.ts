// Relabeling: every action against Prometheus's documented behaviour (values cross-checked with the
// upstream model/relabel tests), config validation, template expansion, and a property test.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import {
  compileRelabelConfigs,
  parseRelabelConfig,
  parseTemplate,
  relabel,
  relabelConfigSchema,
  validateRelabelConfig,
  withNameValidationScheme,
  type RelabelConfig,
} from '../../src/agent/index.js';
import { labelsFromObject, labelsToObject, type Labels } from '../../src/model/labels.js';

const SEED = Number(process.env.FC_SEED ?? 20240611);

const L = (o: Record<string, string>): Labels => labelsFromObject(o);
const rules = (yaml: string): RelabelConfig[] => (parseYaml(yaml) as unknown[]).map((r) => parseRelabelConfig(r));
const run = (input: Record<string, string>, yaml: string): Record<string, string> | null => {
  const out = relabel(L(input), rules(yaml));
  return out === null ? null : labelsToObject(out);
};

interface Case {
  name: string;
  input: Record<string, string>;
  rules: string;
  output: Record<string, string> | null;
}

const cases: Case[] = [
  // replace
  {
    name: 'replace with defaults copies a label',
    input: { a: 'foo' },
    rules: '- {source_labels: [a], target_label: b}',
    output: { a: 'foo', b: 'foo' },
  },
  {
    name: 'replace with groups, separator and ${n}',
    input: { a: 'foo', b: 'bar' },
    rules: '- {source_labels: [a, b], separator: "-", regex: "f(.*)-(b.*)", target_label: c, replacement: "${2}_$1"}',
    output: { a: 'foo', b: 'bar', c: 'bar_oo' },
  },
  {
    name: 'replace regex is anchored: no match on a substring',
    input: { a: 'foobar' },
    rules: '- {source_labels: [a], regex: foo, target_label: b, replacement: x}',
    output: { a: 'foobar' },
  },
  {
    name: 'replace: a missing source label reads as empty and the empty replacement deletes the target',
    input: { a: 'x', b: 'keep-me-not' },
    rules: '- {source_labels: [missing], target_label: b}',
    output: { a: 'x' },
  },
  {
    name: 'replace: regex that does not match the empty value leaves the target alone',
    input: { b: 'stays' },
    rules: '- {source_labels: [missing], regex: "(.+)", target_label: b}',
    output: { b: 'stays' },
  },
  {
    name: 'replace: several missing labels join to separators only',
    input: {},
    rules: '- {source_labels: [x, y, z], regex: ";;", target_label: out, replacement: matched}',
    output: { out: 'matched' },
  },
  {
    name: 'replace: static value with no source labels',
    input: { a: '1' },
    rules: '- {target_label: env, replacement: prod}',
    output: { a: '1', env: 'prod' },
  },
  {
    name: 'replace: target label built from a group',
    input: { a: 'some-name-value' },
    rules: '- {source_labels: [a], regex: "some-([^-]+)-([^,]+)", target_label: "${1}", replacement: "${2}"}',
    output: { a: 'some-name-value', name: 'value' },
  },
  {
    name: 'replace: a target that expands to an empty name is skipped',
    input: { a: 'some-name-0' },
    rules: '- {source_labels: [a], regex: "some-([^-]+)-([^,]+)", target_label: "${3}", replacement: "${1}"}',
    output: { a: 'some-name-0' },
  },
  {
    name: 'replace: a replacement referring to a missing group is empty, so nothing is set',
    input: { a: 'some-name-value' },
    rules: '- {source_labels: [a], regex: "some-([^-]+)-([^,]+)", target_label: "${1}", replacement: "${3}"}',
    output: { a: 'some-name-value' },
  },
  {
    name: 'replace: named groups as $name and ${name}, (?P<n>) and (?<n>) syntax',
    input: { a: 'line1\nline2' },
    rules: `
- {source_labels: [a], regex: "(line1).*(?P<second>line2)", target_label: "l1_\${1}", replacement: "v_\${second}"}
- {source_labels: [a], regex: "(line1).*(?<second>line2)", target_label: "l2_$1", replacement: "v_$second"}`,
    output: { a: 'line1\nline2', l1_line1: 'v_line2', l2_line1: 'v_line2' },
  },
  {
    name: 'replace: . matches newlines',
    input: { a: 'line1\nline2' },
    rules: '- {source_labels: [a], regex: "line1.*line2", target_label: d, replacement: "match${1}"}',
    output: { a: 'line1\nline2', d: 'match' },
  },
  {
    name: 'replace: $1x is group "1x" (empty), ${1}x is group 1 then x, $$ is a dollar',
    input: { a: 'v' },
    rules: `
- {source_labels: [a], target_label: b, replacement: "[$1x]"}
- {source_labels: [a], target_label: c, replacement: "[\${1}x]"}
- {source_labels: [a], target_label: d, replacement: "$$1"}`,
    output: { a: 'v', b: '[]', c: '[vx]', d: '$1' },
  },
  {
    name: 'replace: UTF-8 label names (Prometheus 3)',
    input: { 'utf-8.label': 'x' },
    rules: '- {source_labels: [utf-8.label], target_label: "another.label", replacement: "y$1"}',
    output: { 'utf-8.label': 'x', 'another.label': 'yx' },
  },
  {
    name: 'replace: inline flags',
    input: { a: 'FOO' },
    rules: '- {source_labels: [a], regex: "(?i)foo", target_label: b, replacement: ok}',
    output: { a: 'FOO', b: 'ok' },
  },
  {
    name: 'replace: a chain where a later rule sees earlier results',
    input: { __meta_sd_tags: 'path:/secret,job:some-job,label:foo=bar' },
    rules: `
- {source_labels: [__meta_sd_tags], regex: "(?:.+,|^)path:(/[^,]+).*", target_label: __metrics_path__}
- {source_labels: [__meta_sd_tags], regex: "(?:.+,|^)job:([^,]+).*", target_label: job}
- {source_labels: [__meta_sd_tags], regex: "(?:.+,|^)label:([^=]+)=([^,]+).*", target_label: "\${1}", replacement: "\${2}"}
- {source_labels: [job, __metrics_path__], separator: "", target_label: both}`,
    output: {
      __meta_sd_tags: 'path:/secret,job:some-job,label:foo=bar',
      __metrics_path__: '/secret',
      job: 'some-job',
      foo: 'bar',
      both: 'some-job/secret',
    },
  },
  {
    name: 'replace: the usual __address__ port rewrite',
    input: { __address__: '10.0.0.1:80', __meta_port: '9100' },
    rules: '- {source_labels: [__address__, __meta_port], regex: "(.+?)(?::\\\\d+)?;(\\\\d+)", target_label: __address__, replacement: "$1:$2"}',
    output: { __address__: '10.0.0.1:9100', __meta_port: '9100' },
  },
  // keep / drop
  { name: 'keep on match', input: { a: 'foo' }, rules: '- {source_labels: [a], regex: "f.*", action: keep}', output: { a: 'foo' } },
  { name: 'keep drops on mismatch', input: { a: 'foo' }, rules: '- {source_labels: [a], regex: "f", action: keep}', output: null },
  { name: 'keep with the empty regex keeps a missing label', input: { a: 'foo' }, rules: '- {source_labels: [b], regex: "", action: keep}', output: { a: 'foo' } },
  { name: 'drop on match', input: { a: 'foo' }, rules: '- {source_labels: [a], regex: "foo|bar", action: drop}', output: null },
  { name: 'drop is anchored', input: { a: 'foobar' }, rules: '- {source_labels: [a], regex: "foo", action: drop}', output: { a: 'foobar' } },
  { name: 'action names are case-insensitive', input: { a: 'foo' }, rules: '- {source_labels: [a], regex: foo, action: DROP}', output: null },
  {
    name: 'drop stops later rules',
    input: { a: 'foo' },
    rules: '- {source_labels: [a], regex: foo, action: drop}\n- {target_label: b, replacement: x}',
    output: null,
  },
  // keepequal / dropequal
  {
    name: 'keepequal keeps when the target equals the joined sources',
    input: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
    rules: '- {source_labels: [__tmp_port], target_label: __port1, action: keepequal}',
    output: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
  },
  {
    name: 'keepequal drops otherwise',
    input: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
    rules: '- {source_labels: [__tmp_port], target_label: __port2, action: keepequal}',
    output: null,
  },
  {
    name: 'dropequal drops when equal',
    input: { __tmp_port: '1234', __port1: '1234' },
    rules: '- {source_labels: [__tmp_port], target_label: __port1, action: dropequal}',
    output: null,
  },
  {
    name: 'dropequal: a missing target equals a missing source (both empty)',
    input: { a: '1' },
    rules: '- {source_labels: [x], target_label: y, action: dropequal}',
    output: null,
  },
  {
    name: 'dropequal keeps when different',
    input: { __tmp_port: '1234', __port2: '5678' },
    rules: '- {source_labels: [__tmp_port], target_label: __port2, action: dropequal}',
    output: { __tmp_port: '1234', __port2: '5678' },
  },
  // hashmod (values from Prometheus's own tests)
  {
    name: 'hashmod',
    input: { a: 'foo', b: 'bar', c: 'baz' },
    rules: '- {source_labels: [c], target_label: d, modulus: 1000, action: hashmod}',
    output: { a: 'foo', b: 'bar', c: 'baz', d: '976' },
  },
  {
    name: 'hashmod over a value with a newline',
    input: { a: 'foo\nbar' },
    rules: '- {source_labels: [a], target_label: b, modulus: 1000, action: hashmod}',
    output: { a: 'foo\nbar', b: '734' },
  },
  {
    name: 'hashmod then keep one shard',
    input: { __address__: 'baz' },
    rules: '- {source_labels: [__address__], target_label: __tmp_hash, modulus: 1000, action: hashmod}\n- {source_labels: [__tmp_hash], regex: "976", action: keep}',
    output: { __address__: 'baz', __tmp_hash: '976' },
  },
  // labelmap
  {
    name: 'labelmap with ${1}',
    input: { a: 'foo', b1: 'bar', b2: 'baz' },
    rules: '- {regex: "(b.*)", replacement: "bar_${1}", action: labelmap}',
    output: { a: 'foo', b1: 'bar', b2: 'baz', bar_b1: 'bar', bar_b2: 'baz' },
  },
  {
    name: 'labelmap of __meta_ labels with the default replacement',
    input: { a: 'foo', __meta_my_bar: 'aaa', __meta_my_baz: 'bbb', __meta_other: 'ccc' },
    rules: '- {regex: "__meta_(my.*)", action: labelmap}',
    output: { a: 'foo', __meta_my_bar: 'aaa', __meta_my_baz: 'bbb', __meta_other: 'ccc', my_bar: 'aaa', my_baz: 'bbb' },
  },
  {
    name: 'labelmap overwrites an existing label and sees labels as they were before the rule',
    input: { __meta_kubernetes_pod_label_app: 'web', app: 'old', __meta_kubernetes_pod_label_x: 'y' },
    rules: '- {regex: "__meta_kubernetes_pod_label_(.+)", action: labelmap}',
    output: { __meta_kubernetes_pod_label_app: 'web', app: 'web', __meta_kubernetes_pod_label_x: 'y', x: 'y' },
  },
  // labeldrop / labelkeep
  { name: 'labeldrop', input: { a: 'foo', b1: 'bar', b2: 'baz' }, rules: '- {regex: "(b.*)", action: labeldrop}', output: { a: 'foo' } },
  { name: 'labeldrop is anchored', input: { ab: '1', b: '2' }, rules: '- {regex: "b", action: labeldrop}', output: { ab: '1' } },
  { name: 'labelkeep', input: { a: 'foo', b1: 'bar', b2: 'baz' }, rules: '- {regex: "(b.*)", action: labelkeep}', output: { b1: 'bar', b2: 'baz' } },
  { name: 'labelkeep can empty the set', input: { a: 'foo' }, rules: '- {regex: "z", action: labelkeep}', output: {} },
  {
    name: 'labeldrop then a replace on the dropped name',
    input: { __meta_kubernetes_pod_container_port_name: 'foo', __meta_kubernetes_pod_annotation_XXX_metrics_port: '9091' },
    rules: `
- {regex: "^__meta_kubernetes_pod_container_port_name$", action: labeldrop}
- {source_labels: [__meta_kubernetes_pod_annotation_XXX_metrics_port], regex: "(.+)", replacement: metrics, target_label: __meta_kubernetes_pod_container_port_name}
- {source_labels: [__meta_kubernetes_pod_container_port_name], regex: "^metrics$", action: keep}`,
    output: { __meta_kubernetes_pod_annotation_XXX_metrics_port: '9091', __meta_kubernetes_pod_container_port_name: 'metrics' },
  },
  // lowercase / uppercase
  {
    name: 'lowercase and uppercase',
    input: { foo: 'bAr123Foo' },
    rules: '- {source_labels: [foo], target_label: foo_uppercase, action: uppercase}\n- {source_labels: [foo], target_label: foo_lowercase, action: lowercase}',
    output: { foo: 'bAr123Foo', foo_lowercase: 'bar123foo', foo_uppercase: 'BAR123FOO' },
  },
  {
    name: 'uppercase maps rune by rune like Go (ß stays, é becomes É)',
    input: { a: 'straße é' },
    rules: '- {source_labels: [a], target_label: b, action: uppercase}',
    output: { a: 'straße é', b: 'STRAßE É' },
  },
  {
    name: 'lowercase of a missing label deletes the target',
    input: { b: 'x' },
    rules: '- {source_labels: [a], target_label: b, action: lowercase}',
    output: {},
  },
];

describe('relabel actions', () => {
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(run(c.input, c.rules), c.output));
  }

  it('returns the input array itself when nothing changes', () => {
    const ls = L({ a: '1', b: '2' });
    const same = rules(`
- {source_labels: [a], regex: "1", action: keep}
- {source_labels: [a], target_label: b, replacement: "2"}
- {source_labels: [c], target_label: c}
- {regex: "z.*", action: labeldrop}
- {regex: "__meta_(.*)", action: labelmap}`);
    assert.equal(relabel(ls, same), ls);
    assert.equal(compileRelabelConfigs(same).process(ls), ls);
    assert.equal(relabel(ls, []), ls);
    // Set then removed again: equal content, so the original comes back.
    assert.equal(relabel(ls, rules('- {target_label: c, replacement: x}\n- {regex: c, action: labeldrop}')), ls);
  });

  it('returns a new frozen, sorted array when something changes', () => {
    const ls = L({ b: '2', d: '4' });
    const out = relabel(ls, rules('- {target_label: c, replacement: "3"}\n- {target_label: a, replacement: "1"}\n- {target_label: e, replacement: "5"}'))!;
    assert.deepEqual(out, ['a', '1', 'b', '2', 'c', '3', 'd', '4', 'e', '5']);
    assert.ok(Object.isFrozen(out));
    assert.deepEqual(ls, ['b', '2', 'd', '4']);
  });

  it('evaluates legacy-scheme targets with legacy name validity', () => {
    const cfg = withNameValidationScheme(parseRelabelConfig({ source_labels: ['a'], regex: '(.*)', target_label: 'x_${1}', replacement: 'v' }), 'legacy');
    assert.deepEqual(relabel(L({ a: 'ok' }), [cfg]), L({ a: 'ok', x_ok: 'v' }));
    // "x_a.b" is a valid UTF-8 name but not a legacy one: the rule does nothing.
    assert.deepEqual(relabel(L({ a: 'a.b' }), [cfg]), L({ a: 'a.b' }));
  });
});

describe('relabel config schema', () => {
  it('fills Prometheus defaults', () => {
    const c = parseRelabelConfig({ target_label: 'x' });
    assert.deepEqual(
      { ...c },
      {
        source_labels: [],
        separator: ';',
        regex: '(.*)',
        modulus: 0,
        target_label: 'x',
        replacement: '$1',
        action: 'replace',
        name_validation_scheme: 'utf8',
      },
    );
    assert.ok(Object.isFrozen(c));
  });

  it('reads `regex:` with no value as the empty expression, as Go YAML does', () => {
    const c = parseRelabelConfig({ regex: null, replacement: 'static', target_label: 'abc' });
    assert.equal(c.regex, '');
    assert.deepEqual(relabel(L({ a: '1' }), [c]), L({ a: '1', abc: 'static' }));
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['empty action', { action: '' }, /relabel action cannot be empty/],
    ['unknown action', { action: 'explode' }, /unknown relabel action "explode"/],
    ['replace without target', { source_labels: ['a'] }, /requires 'target_label' value/],
    ['hashmod without modulus', { action: 'hashmod', target_label: 'x' }, /requires non-zero modulus/],
    ['hashmod without target', { action: 'hashmod', modulus: 2 }, /hashmod action requires 'target_label'/],
    ['lowercase without target', { action: 'lowercase' }, /lowercase action requires 'target_label'/],
    ['uppercase with replacement', { action: 'uppercase', target_label: 'x', replacement: 'y' }, /'replacement' can not be set for uppercase action/],
    ['keepequal without target', { action: 'keepequal', source_labels: ['a'] }, /keepequal action requires 'target_label'/],
    ['keepequal with regex', { action: 'keepequal', source_labels: ['a'], target_label: 'b', regex: '(.*)' }, /requires only 'source_labels' and `target_label`/],
    ['dropequal with separator', { action: 'dropequal', source_labels: ['a'], target_label: 'b', separator: ',' }, /requires only 'source_labels'/],
    ['labeldrop with source_labels', { action: 'labeldrop', source_labels: ['a'], regex: 'a' }, /labeldrop action requires only 'regex'/],
    ['labelkeep with empty source_labels', { action: 'labelkeep', source_labels: [], regex: 'a' }, /labelkeep action requires only 'regex'/],
    ['labelkeep with target', { action: 'labelkeep', target_label: 'x' }, /labelkeep action requires only 'regex'/],
    ['labeldrop with replacement', { action: 'labeldrop', replacement: 'x' }, /labeldrop action requires only 'regex'/],
    ['bad regex', { regex: '(', target_label: 'x' }, /error parsing regexp/],
    ['unbalanced ) that would escape the anchors', { regex: 'a)|(b', target_label: 'x' }, /error parsing regexp: unexpected \)/],
    ['invalid source label', { source_labels: [''], target_label: 'x' }, /source_labels.0: "" is not a valid label name/],
    ['replace with an empty expanded-name template', { target_label: '', action: 'replace' }, /requires 'target_label'/],
    ['unknown key', { target: 'x' }, /unknown key "target"/],
    ['negative modulus', { action: 'hashmod', target_label: 'x', modulus: -1 }, /modulus must be a non-negative integer/],
  ];
  for (const [name, input, re] of bad) {
    it(`rejects ${name}`, () => assert.throws(() => parseRelabelConfig(input), re));
  }

  it('keepequal/dropequal accept restated defaults for separator and replacement', () => {
    assert.doesNotThrow(() => parseRelabelConfig({ action: 'keepequal', source_labels: ['a'], target_label: 'b', separator: ';', replacement: '$1' }));
  });

  it('validates target labels per name validation scheme', () => {
    const utf8 = parseRelabelConfig({ source_labels: ['a'], target_label: 'foo.bar' });
    assert.equal(validateRelabelConfig(utf8, 'utf8'), undefined);
    assert.match(validateRelabelConfig(utf8, 'legacy')!, /"foo.bar" is invalid 'target_label' for replace action/);
    const lower = parseRelabelConfig({ action: 'lowercase', source_labels: ['a'], target_label: '${3}' });
    assert.equal(validateRelabelConfig(lower, 'utf8'), undefined); // any UTF-8 name is fine in Prometheus 3
    assert.match(validateRelabelConfig(lower, 'legacy')!, /invalid 'target_label' for lowercase action/);
    const lm = parseRelabelConfig({ action: 'labelmap', regex: '__meta_(.+)', replacement: '${1}' });
    assert.equal(validateRelabelConfig(lm, 'legacy'), undefined);
    assert.throws(() => withNameValidationScheme(parseRelabelConfig({ action: 'labelmap', replacement: 'a-$1' }), 'legacy'), /invalid 'replacement' for labelmap/);
  });

  it('checks legacy target templates like Prometheus (without exponential backtracking)', () => {
    const legacy: [string, boolean][] = [
      ['-label', false], ['label', true], ['label${1}', true], ['${1}label', true], ['${1}', true], ['${', false],
      ['$', false], ['${}', false], ['foo${', false], ['$1', true], ['asd$2asd', true], ['-foo${1}bar-', false],
      ['bar.foo${1}bar', false], ['_${1}_', true], ['foo${bar}foo', true], ['1abc', false], ['a'.repeat(5000) + '-', false],
    ];
    for (const [target, valid] of legacy) {
      const cfg = { ...parseRelabelConfig({ target_label: 'x' }), target_label: target };
      assert.equal(validateRelabelConfig(cfg, 'legacy') === undefined, valid, target);
    }
  });

  it('reads \\Q…\\E as literal text when checking groups', () => {
    assert.deepEqual(relabel(L({ a: '(x' }), [parseRelabelConfig({ source_labels: ['a'], regex: '\\Q(\\Ex', action: 'keep' })]), L({ a: '(x' }));
  });

  it('accepts YAML text scalars (modulus as a string, numbers in names)', () => {
    const res = relabelConfigSchema.safeParse({ action: 'hashmod', modulus: '8', source_labels: ['a'], target_label: 'b' });
    assert.ok(res.success);
    assert.equal(res.data.modulus, 8);
  });
});

describe('templates (Go Regexp.Expand)', () => {
  const parts = (t: string) => parseTemplate(t).parts;
  it('parses references', () => {
    assert.deepEqual(parts('a$1b'), ['a', { name: '1b' }]);
    assert.deepEqual(parts('a${1}b'), ['a', 1, 'b']);
    assert.deepEqual(parts('$name.x'), [{ name: 'name' }, '.x']);
    assert.deepEqual(parts('${01}'), [{ name: '01' }]);
    assert.deepEqual(parts('$0'), [0]);
    assert.deepEqual(parts('${123456789}'), [{ name: '123456789' }]);
  });
  it('keeps malformed references as text', () => {
    assert.equal(parseTemplate('$').constant, '$');
    assert.equal(parseTemplate('${').constant, '${');
    assert.equal(parseTemplate('${1').constant, '${1');
    assert.equal(parseTemplate('$-x').constant, '$-x');
    assert.equal(parseTemplate('a$$b').constant, 'a$b');
    assert.equal(parseTemplate('plain').constant, 'plain');
  });
});

describe('literal fast paths', () => {
  it('match exactly what the regex would', () => {
    const patterns = ['foo', 'a|b|go_gc', 'go_.*', '', 'x-y', 'up:ratio', 'a|'];
    fc.assert(
      fc.property(fc.constantFrom(...patterns), fc.oneof(fc.constantFrom('foo', 'a', 'b', 'go_', 'go_gc\nx', '', 'x-y', 'foox', 'up:ratio'), fc.string()), (p, v) => {
        const ls = L({ v });
        const fast = relabel(ls, [parseRelabelConfig({ source_labels: ['v'], regex: p, action: 'keep' })]);
        const slow = relabel(ls, [parseRelabelConfig({ source_labels: ['v'], regex: `(?:${p})`, action: 'keep' })]);
        assert.equal(fast === null, slow === null, `${p} on ${JSON.stringify(v)}`);
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('replace with the default regex expands as a real match would', () => {
    const templates = ['$1', '${1}x', '$0', '$2', '$name', 'a$1b${0}', 'static', ''];
    fc.assert(
      fc.property(fc.constantFrom(...templates), fc.constantFrom('t', 't_$1', '${1}'), fc.string({ maxLength: 6 }), (repl, target, v) => {
        const ls = L({ v });
        const mk = (regex: string) => [parseRelabelConfig({ source_labels: ['v'], regex, target_label: target, replacement: repl })];
        assert.deepEqual(relabel(ls, mk('(.*)')), relabel(ls, mk('(.*)()')));
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});

describe('relabel properties', () => {
  const name = fc.oneof(
    fc.constantFrom('__name__', '__address__', 'job', 'instance', 'a', 'b', '__meta_x', 'le'),
    fc.string({ minLength: 1, maxLength: 8, unit: 'grapheme' }),
  );
  const value = fc.string({ maxLength: 12, unit: 'grapheme' });
  const labelSet = fc.dictionary(name, value, { maxKeys: 8, noNullPrototype: true }).map(L);
  const regex = fc.constantFrom('(.*)', '', '(.+)', 'a.*', '__meta_(.*)', '(?i)JOB', '([^;]*);(.*)', '(?P<x>.)(.*)', '.*\\d+');
  const template = fc.constantFrom('$1', '${1}', '$2$1', 'x_${x}', '', 'static', '$0', '${1}_$2x', '$$');
  const rule = fc
    .record({
      action: fc.constantFrom('replace', 'keep', 'drop', 'keepequal', 'dropequal', 'hashmod', 'labelmap', 'labeldrop', 'labelkeep', 'lowercase', 'uppercase'),
      source_labels: fc.array(name, { maxLength: 3 }),
      regex,
      target_label: fc.oneof(name, template.filter((t) => t !== '')),
      replacement: template,
      modulus: fc.integer({ min: 1, max: 1000 }),
      separator: fc.constantFrom(';', '', ','),
    })
    .map((r) => {
      const input: Record<string, unknown> = { action: r.action };
      if (r.action === 'labeldrop' || r.action === 'labelkeep') input.regex = r.regex;
      else if (r.action === 'keepequal' || r.action === 'dropequal') Object.assign(input, { source_labels: r.source_labels, target_label: r.target_label });
      else Object.assign(input, r, { modulus: r.action === 'hashmod' ? r.modulus : undefined });
      if (r.action === 'lowercase' || r.action === 'uppercase') delete input.replacement;
      const res = relabelConfigSchema.safeParse(input);
      return res.success ? res.data : null;
    })
    .filter((r): r is RelabelConfig => r !== null);

  it('never throws, and returns a valid sorted label set or null', () => {
    fc.assert(
      fc.property(labelSet, fc.array(rule, { maxLength: 6 }), (ls, cfgs) => {
        const out = relabel(ls, cfgs);
        if (out === null) return;
        for (let i = 0; i + 2 < out.length; i += 2) assert.ok(out[i]! < out[i + 2]!, 'sorted, no duplicates');
        for (let i = 0; i < out.length; i += 2) {
          assert.notEqual(out[i], '');
          assert.notEqual(out[i + 1], '');
        }
        assert.deepEqual(compileRelabelConfigs(cfgs).process(ls), out);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });
});
