/**
 * Prometheus relabeling, as used by `relabel_configs`, `metric_relabel_configs`,
 * `write_relabel_configs` and `alert_relabel_configs`: the YAML schema with Prometheus's defaults and
 * validation, and an evaluator that compiles each rule once and returns the input array itself when
 * no rule changed anything.
 *
 * Semantics follow Prometheus 3.x (model/relabel): regexes are RE2 anchored at both ends with `.`
 * matching newlines; `$1`, `${1}`, `$name` and `${name}` expand as Go's `Regexp.Expand` does; a missing
 * source label reads as the empty string; setting a label to the empty string deletes it.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { EMPTY_LABELS, labelsEqual, type Labels } from '../model/labels.js';
import { compileAnchoredRegex } from '../model/matcher.js';
import { obj, text } from '../config/prometheus-yaml.js';

export const RELABEL_ACTIONS = [
  'replace',
  'keep',
  'drop',
  'keepequal',
  'dropequal',
  'hashmod',
  'labelmap',
  'labeldrop',
  'labelkeep',
  'lowercase',
  'uppercase',
] as const;
export type RelabelAction = (typeof RELABEL_ACTIONS)[number];

/** How label names are validated: Prometheus 3 accepts any non-empty UTF-8 name; 2.x used `legacy`. */
export type NameValidationScheme = 'utf8' | 'legacy';

export interface RelabelConfig {
  readonly source_labels: readonly string[];
  readonly separator: string;
  /** The expression as written (unanchored); it is matched fully anchored. */
  readonly regex: string;
  readonly modulus: number;
  readonly target_label: string;
  readonly replacement: string;
  readonly action: RelabelAction;
  /** Not a YAML key: the scheme of the enclosing scrape config (set by the config loader). */
  readonly name_validation_scheme: NameValidationScheme;
}

export const RELABEL_DEFAULTS = Object.freeze({
  separator: ';',
  regex: '(.*)',
  replacement: '$1',
  action: 'replace' as RelabelAction,
});

// ---------------------------------------------------------------------------------------------------
// Label name validity

const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
const LEGACY_LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function isValidLabelName(name: string, scheme: NameValidationScheme = 'utf8'): boolean {
  if (scheme === 'legacy') return LEGACY_LABEL.test(name);
  return name.length > 0 && !LONE_SURROGATE.test(name);
}

/** A label value is valid when it is well-formed UTF-8 (no lone surrogates in JavaScript terms). */
export function isValidLabelValue(value: string): boolean {
  return !LONE_SURROGATE.test(value);
}

const WORD = /[A-Za-z0-9_]/;

/**
 * A legacy label name that may contain `$var`/`${var}` references (target_label of replace, the
 * replacement of labelmap). Prometheus checks this with a nested-quantifier regex; a scanner gives the
 * same answer without the exponential backtracking JavaScript would risk on long invalid names.
 */
function isLegacyNameWithVars(s: string): boolean {
  if (s.length === 0) return false;
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '$') {
      if (s[i + 1] === '{') {
        let j = i + 2;
        while (j < s.length && WORD.test(s[j]!)) j++;
        if (j === i + 2 || s[j] !== '}') return false;
        i = j + 1;
      } else {
        let j = i + 1;
        while (j < s.length && WORD.test(s[j]!)) j++;
        if (j === i + 1) return false;
        i = j;
      }
    } else if (WORD.test(c) && !(i === 0 && c >= '0' && c <= '9')) {
      i++;
    } else {
      return false;
    }
  }
  return true;
}

function isValidNameWithVars(s: string, scheme: NameValidationScheme): boolean {
  return scheme === 'utf8' ? isValidLabelName(s, 'utf8') : isLegacyNameWithVars(s);
}

// ---------------------------------------------------------------------------------------------------
// Validation

/**
 * The checks that depend on the name validation scheme (which only the enclosing config knows).
 * Returns Prometheus's message for the first problem, or undefined.
 */
export function validateRelabelConfig(cfg: RelabelConfig, scheme: NameValidationScheme): string | undefined {
  const { action, target_label: target } = cfg;
  const badTarget = `${JSON.stringify(target)} is invalid 'target_label' for ${action} action`;
  switch (action) {
    case 'replace':
      if (target.includes('$') ? !isValidNameWithVars(target, scheme) : !isValidLabelName(target, scheme)) return badTarget;
      break;
    case 'lowercase':
    case 'uppercase':
    case 'keepequal':
    case 'dropequal':
    case 'hashmod':
      if (!isValidLabelName(target, scheme)) return badTarget;
      break;
    case 'labelmap':
      if (!isValidNameWithVars(cfg.replacement, scheme)) {
        return `${JSON.stringify(cfg.replacement)} is invalid 'replacement' for labelmap action`;
      }
      break;
    default:
      break;
  }
  return undefined;
}

/** The scheme-independent rules; `explicit` tells which keys the YAML set (defaults can be restated). */
function structuralProblem(cfg: RelabelConfig, explicit: { regex: boolean; sourceLabels: boolean }): string | undefined {
  const { action } = cfg;
  if (action === 'hashmod' && cfg.modulus === 0) return 'relabel configuration for hashmod requires non-zero modulus';
  const needsTarget = ['replace', 'hashmod', 'lowercase', 'uppercase', 'keepequal', 'dropequal'].includes(action);
  if (needsTarget && cfg.target_label === '') return `relabel configuration for ${action} action requires 'target_label' value`;
  const noReplacement = ['lowercase', 'uppercase', 'keepequal', 'dropequal'].includes(action);
  if (noReplacement && cfg.replacement !== RELABEL_DEFAULTS.replacement) return `'replacement' can not be set for ${action} action`;
  if (action === 'keepequal' || action === 'dropequal') {
    if (explicit.regex || cfg.modulus !== 0 || cfg.separator !== RELABEL_DEFAULTS.separator) {
      return `${action} action requires only 'source_labels' and \`target_label\`, and no other fields`;
    }
  }
  if (action === 'labeldrop' || action === 'labelkeep') {
    if (
      explicit.sourceLabels ||
      cfg.target_label !== '' ||
      cfg.modulus !== 0 ||
      cfg.separator !== RELABEL_DEFAULTS.separator ||
      cfg.replacement !== RELABEL_DEFAULTS.replacement
    ) {
      return `${action} action requires only 'regex', and no other fields`;
    }
  }
  return undefined;
}

/**
 * Rejects what RE2 rejects but JavaScript would read differently once wrapped in `^(?:…)$`: an
 * unbalanced `)` would otherwise escape the anchoring group.
 */
function unbalancedGroup(src: string): string | undefined {
  let depth = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\' && src[i + 1] === 'Q') {
      const end = src.indexOf('\\E', i + 2);
      i = end < 0 ? src.length : end + 1; // \Q…\E is literal text
    } else if (c === '\\') i++;
    else if (c === '[') {
      i++;
      if (src[i] === '^') i++;
      if (src[i] === ']') i++;
      while (i < src.length && src[i] !== ']') {
        if (src[i] === '\\') i++;
        else if (src[i] === '[' && src[i + 1] === ':') {
          const end = src.indexOf(':]', i + 2);
          if (end > 0) i = end + 1;
        }
        i++;
      }
      if (i >= src.length) return 'missing closing ]';
    } else if (c === '(') depth++;
    else if (c === ')' && --depth < 0) return 'unexpected )';
  }
  return depth > 0 ? 'missing closing )' : undefined;
}

/** Compiles a relabel regex or throws an Error with Prometheus's wording. */
export function compileRelabelRegex(src: string): RegExp {
  const bad = unbalancedGroup(src);
  if (bad) throw new Error(`error parsing regexp: ${bad}: \`${src}\``);
  try {
    return compileAnchoredRegex(src);
  } catch (err) {
    throw new Error(`error parsing regexp: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Schema. YAML scalars arrive as their source text (see config/prometheus-yaml.ts); numbers and
// booleans are accepted too so that configs can be built in code. `null` is Go's zero value.

const labelName = text.refine((v) => isValidLabelName(v), { error: (iss) => `${JSON.stringify(iss.input)} is not a valid label name` });

const modulus = z
  .preprocess((v) => (v === null ? 0 : v), z.union([z.number(), z.string()]))
  .transform((v, ctx) => {
    const s = String(v).replace(/_/g, '');
    const n = /^\+?\d+$/.test(s) ? Number(s) : typeof v === 'number' ? v : NaN;
    if (!Number.isSafeInteger(n) || n < 0) {
      ctx.addIssue({ code: 'custom', message: `modulus must be a non-negative integer below 2^53, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return n;
  });

export const relabelConfigSchema = obj({
  source_labels: z.preprocess((v) => (v === null ? undefined : v), z.array(labelName).optional()),
  separator: text.optional(),
  regex: text.optional(),
  modulus: modulus.optional(),
  target_label: text.optional(),
  replacement: text.optional(),
  action: text.optional(),
}).transform((raw, ctx): RelabelConfig => {
  const action = (raw.action ?? RELABEL_DEFAULTS.action).toLowerCase();
  if (action === '') {
    ctx.addIssue({ code: 'custom', path: ['action'], message: 'relabel action cannot be empty' });
    return z.NEVER;
  }
  if (!(RELABEL_ACTIONS as readonly string[]).includes(action)) {
    ctx.addIssue({ code: 'custom', path: ['action'], message: `unknown relabel action ${JSON.stringify(raw.action)}` });
    return z.NEVER;
  }
  const cfg: RelabelConfig = {
    source_labels: Object.freeze(raw.source_labels ?? []),
    separator: raw.separator ?? RELABEL_DEFAULTS.separator,
    regex: raw.regex ?? RELABEL_DEFAULTS.regex,
    modulus: raw.modulus ?? 0,
    target_label: raw.target_label ?? '',
    replacement: raw.replacement ?? RELABEL_DEFAULTS.replacement,
    action: action as RelabelAction,
    name_validation_scheme: 'utf8',
  };
  try {
    compileRelabelRegex(cfg.regex);
  } catch (err) {
    ctx.addIssue({ code: 'custom', path: ['regex'], message: (err as Error).message });
    return z.NEVER;
  }
  const problem =
    structuralProblem(cfg, { regex: raw.regex !== undefined, sourceLabels: raw.source_labels !== undefined }) ??
    validateRelabelConfig(cfg, 'utf8');
  if (problem) {
    ctx.addIssue({ code: 'custom', message: problem });
    return z.NEVER;
  }
  return Object.freeze(cfg);
});

/** Parses one rule (YAML-shaped object) or throws an Error naming the key. */
export function parseRelabelConfig(input: unknown, scheme: NameValidationScheme = 'utf8'): RelabelConfig {
  const res = relabelConfigSchema.safeParse(input);
  if (!res.success) {
    const i = res.error.issues[0]!;
    throw new Error(i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message);
  }
  return withNameValidationScheme(res.data, scheme);
}

/** The same rule validated and evaluated under another name validation scheme; throws when invalid. */
export function withNameValidationScheme(cfg: RelabelConfig, scheme: NameValidationScheme): RelabelConfig {
  if (cfg.name_validation_scheme === scheme) return cfg;
  const problem = validateRelabelConfig(cfg, scheme);
  if (problem) throw new Error(problem);
  return Object.freeze({ ...cfg, name_validation_scheme: scheme });
}

// ---------------------------------------------------------------------------------------------------
// Templates: Go's Regexp.Expand

/** Literal text, a group number, or a group name. */
type Part = string | number | { readonly name: string };

interface Template {
  readonly parts: readonly Part[];
  /** The expansion when the template has no references. */
  readonly constant: string | null;
}

const NAME_CHAR = /[\p{L}\p{Nd}_]/u;

export function parseTemplate(tpl: string): Template {
  const parts: Part[] = [];
  let lit = '';
  let i = 0;
  while (i < tpl.length) {
    const c = tpl[i]!;
    if (c !== '$') {
      lit += c;
      i++;
      continue;
    }
    i++;
    if (tpl[i] === '$') {
      lit += '$';
      i++;
      continue;
    }
    const brace = tpl[i] === '{';
    let j = brace ? i + 1 : i;
    const start = j;
    while (j < tpl.length) {
      const cp = tpl.codePointAt(j)!;
      const ch = String.fromCodePoint(cp);
      if (!NAME_CHAR.test(ch)) break;
      j += ch.length;
    }
    const name = tpl.slice(start, j);
    if (name === '' || (brace && tpl[j] !== '}')) {
      lit += '$'; // malformed: the dollar is literal text, the rest is read normally
      continue;
    }
    i = brace ? j + 1 : j;
    if (lit) parts.push(lit);
    lit = '';
    parts.push(groupRef(name));
  }
  if (lit) parts.push(lit);
  const constant = parts.every((p) => typeof p === 'string') ? parts.join('') : null;
  return { parts, constant };
}

/** A number when the name is all digits (no leading zero, below 1e8), else a group name. */
function groupRef(name: string): number | { name: string } {
  if (/^[0-9]+$/.test(name) && (name === '0' || name[0] !== '0') && name.length <= 8) {
    const n = Number(name);
    if (n < 1e8) return n;
  }
  return { name };
}

/** Expansion against `(.*)` matching `val`, without running the regex. */
function expandWhole(t: Template, val: string): string {
  if (t.constant !== null) return t.constant;
  if (t.parts.length === 1 && (t.parts[0] === 1 || t.parts[0] === 0)) return val;
  let out = '';
  for (const p of t.parts) {
    if (typeof p === 'string') out += p;
    else if (p === 0 || p === 1) out += val;
  }
  return out;
}

function expand(t: Template, m: RegExpExecArray): string {
  if (t.constant !== null) return t.constant;
  let out = '';
  for (const p of t.parts) {
    if (typeof p === 'string') out += p;
    else if (typeof p === 'number') out += m[p] ?? '';
    else out += m.groups?.[p.name] ?? '';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Case mapping as Go's strings.ToLower/ToUpper: rune by rune, never growing a rune into several.

const ASCII = /^[\x00-\x7f]*$/;

function mapRunes(s: string, f: (c: string) => string): string {
  if (ASCII.test(s)) return f(s);
  let out = '';
  for (const ch of s) {
    const m = f(ch);
    // Full case mappings that expand (ß → SS) are not what Go does; keep the rune then, except
    // İ whose simple lowercase in Go is i.
    out += Array.from(m).length === 1 ? m : ch === '\u0130' ? 'i' : ch;
  }
  return out;
}
const goLower = (s: string): string => mapRunes(s, (c) => c.toLowerCase());
const goUpper = (s: string): string => mapRunes(s, (c) => c.toUpperCase());

// ---------------------------------------------------------------------------------------------------
// Compilation

const enum Act {
  Replace,
  Keep,
  Drop,
  KeepEqual,
  DropEqual,
  HashMod,
  LabelMap,
  LabelDrop,
  LabelKeep,
  Lowercase,
  Uppercase,
}

const ACT: Record<RelabelAction, Act> = {
  replace: Act.Replace,
  keep: Act.Keep,
  drop: Act.Drop,
  keepequal: Act.KeepEqual,
  dropequal: Act.DropEqual,
  hashmod: Act.HashMod,
  labelmap: Act.LabelMap,
  labeldrop: Act.LabelDrop,
  labelkeep: Act.LabelKeep,
  lowercase: Act.Lowercase,
  uppercase: Act.Uppercase,
};

interface Compiled {
  readonly act: Act;
  readonly sources: readonly string[];
  readonly separator: string;
  readonly re: RegExp;
  /** `re.test`, or an equivalent string comparison for literal patterns (the common drop/keep rules). */
  readonly test: (s: string) => boolean;
  readonly target: Template;
  readonly targetName: string;
  readonly replacement: Template;
  /** Replace needs the match groups only when a template refers to them. */
  readonly needsGroups: boolean;
  /** The default regex `(.*)`: it always matches, and groups 0 and 1 are the whole value. */
  readonly matchesAll: boolean;
  readonly modulus: bigint;
  readonly scheme: NameValidationScheme;
}

const compiledCache = new WeakMap<RelabelConfig, Compiled>();

const LITERAL = /^[A-Za-z0-9_:\-]*$/;

/** Plain `name`, `a|b|c` and `prefix.*` patterns need no regex engine. */
function literalTest(src: string): ((s: string) => boolean) | undefined {
  if (LITERAL.test(src)) return (v) => v === src;
  const alts = src.split('|');
  if (alts.length > 1 && alts.every((a) => a !== '' && LITERAL.test(a))) {
    const set = new Set(alts);
    return (v) => set.has(v);
  }
  if (src.endsWith('.*') && LITERAL.test(src.slice(0, -2))) {
    const prefix = src.slice(0, -2);
    return (v) => v.startsWith(prefix);
  }
  return undefined;
}

function compile(cfg: RelabelConfig): Compiled {
  let c = compiledCache.get(cfg);
  if (c !== undefined) return c;
  const target = parseTemplate(cfg.target_label);
  const replacement = parseTemplate(cfg.replacement);
  const re = compileRelabelRegex(cfg.regex);
  c = {
    act: ACT[cfg.action],
    sources: cfg.source_labels,
    separator: cfg.separator,
    re,
    test: literalTest(cfg.regex) ?? ((v: string) => re.test(v)),
    target,
    targetName: cfg.target_label,
    replacement,
    needsGroups: target.constant === null || replacement.constant === null,
    matchesAll: cfg.regex === RELABEL_DEFAULTS.regex,
    modulus: BigInt(cfg.modulus || 1),
    scheme: cfg.name_validation_scheme ?? 'utf8',
  };
  compiledCache.set(cfg, c);
  return c;
}

// ---------------------------------------------------------------------------------------------------
// Evaluation over a copy-on-write view of the label array: `work` stays null until a rule changes
// something, so untouched label sets come back as the very same array. The state is module-wide
// because evaluation is synchronous and never re-entered; every call starts by resetting it.

let base: Labels = EMPTY_LABELS;
let work: string[] | null = null;

function current(): readonly string[] {
  return work ?? base;
}

/** Index of `name` in the flat sorted array, or -(insertion index) - 1. */
function find(arr: readonly string[], name: string): number {
  let lo = 0;
  let hi = (arr.length >> 1) - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const n = arr[mid * 2]!;
    if (n === name) return mid * 2;
    if (n < name) lo = mid + 1;
    else hi = mid - 1;
  }
  return -(lo * 2) - 1;
}

function get(name: string): string {
  const arr = current();
  const i = find(arr, name);
  return i >= 0 ? arr[i + 1]! : '';
}

function del(name: string): void {
  const i = find(current(), name);
  if (i < 0) return;
  work ??= base.slice();
  work.splice(i, 2);
}

function set(name: string, value: string): void {
  if (value === '') return del(name);
  if (name === '') return; // no rule may create a nameless label
  const i = find(current(), name);
  if (i >= 0 && current()[i + 1] === value) return;
  work ??= base.slice();
  if (i >= 0) work[i + 1] = value;
  else work.splice(-i - 1, 0, name, value);
}

function sourceValue(c: Compiled): string {
  const s = c.sources;
  if (s.length === 1) return get(s[0]!);
  if (s.length === 0) return '';
  let v = get(s[0]!);
  for (let i = 1; i < s.length; i++) v += c.separator + get(s[i]!);
  return v;
}

const mapped: string[] = []; // scratch for labelmap: [name, value, ...]

/** Applies one rule; false means the series or target is dropped. */
function apply(c: Compiled): boolean {
  switch (c.act) {
    case Act.Keep:
      return c.test(sourceValue(c));
    case Act.Drop:
      return !c.test(sourceValue(c));
    case Act.KeepEqual:
      return get(c.targetName) === sourceValue(c);
    case Act.DropEqual:
      return get(c.targetName) !== sourceValue(c);
    case Act.Replace: {
      const val = sourceValue(c);
      let target: string;
      let value: string;
      if (c.matchesAll) {
        target = expandWhole(c.target, val);
        value = expandWhole(c.replacement, val);
      } else if (c.needsGroups) {
        const m = c.re.exec(val);
        if (m === null) return true;
        target = expand(c.target, m);
        value = expand(c.replacement, m);
      } else {
        if (!c.test(val)) return true;
        target = c.target.constant!;
        value = c.replacement.constant!;
      }
      if (!isValidLabelName(target, c.scheme)) return true;
      if (value === '') del(target);
      else set(target, value);
      return true;
    }
    case Act.Lowercase:
      set(c.targetName, goLower(sourceValue(c)));
      return true;
    case Act.Uppercase:
      set(c.targetName, goUpper(sourceValue(c)));
      return true;
    case Act.HashMod: {
      // The low 8 bytes of the MD5 sum, big-endian, as Prometheus has always done.
      const sum = createHash('md5').update(sourceValue(c), 'utf8').digest();
      set(c.targetName, (sum.readBigUInt64BE(8) % c.modulus).toString());
      return true;
    }
    case Act.LabelMap: {
      // Every label is considered as it was before the rule; results are applied afterwards.
      const arr = current();
      mapped.length = 0;
      for (let i = 0; i < arr.length; i += 2) {
        const m = c.re.exec(arr[i]!);
        if (m !== null) mapped.push(expand(c.replacement, m), arr[i + 1]!);
      }
      for (let i = 0; i < mapped.length; i += 2) set(mapped[i]!, mapped[i + 1]!);
      mapped.length = 0;
      return true;
    }
    case Act.LabelDrop:
    case Act.LabelKeep: {
      const keepMatching = c.act === Act.LabelKeep;
      const arr = current();
      let out: string[] | null = null;
      for (let i = 0; i < arr.length; i += 2) {
        const keep = c.test(arr[i]!) === keepMatching;
        if (!keep && out === null) out = arr.slice(0, i);
        else if (keep && out !== null) out.push(arr[i]!, arr[i + 1]!);
      }
      if (out !== null) work = out;
      return true;
    }
  }
}

function finish(ls: Labels): Labels {
  if (work === null || labelsEqual(work, ls)) return ls;
  return Object.freeze(work);
}

/**
 * Applies the rules in order. Returns null when a rule drops the label set, the input array itself
 * when nothing changed, and a new frozen sorted array otherwise. Each rule is compiled on first use.
 */
export function relabel(ls: Labels, configs: readonly RelabelConfig[]): Labels | null {
  if (configs.length === 0) return ls;
  base = ls;
  work = null;
  for (let i = 0; i < configs.length; i++) if (!apply(compile(configs[i]!))) return null;
  return finish(ls);
}

/** A rule list compiled once, for hot paths (metric relabeling of every scraped series). */
export interface Relabeler {
  readonly configs: readonly RelabelConfig[];
  process(ls: Labels): Labels | null;
}

export function compileRelabelConfigs(configs: readonly RelabelConfig[]): Relabeler {
  const rules = configs.map(compile);
  const process = (ls: Labels): Labels | null => {
    if (rules.length === 0) return ls;
    base = ls;
    work = null;
    for (let i = 0; i < rules.length; i++) if (!apply(rules[i]!)) return null;
    return finish(ls);
  };
  return { configs, process };
}
