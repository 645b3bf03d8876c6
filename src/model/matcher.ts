/** Label matchers (`=`, `!=`, `=~`, `!~`) with Prometheus's fully anchored regular expressions. */
import type { Labels } from './labels.js';
import { getLabel } from './labels.js';
import { translateRE2 } from './re2.js';

export const enum MatchType {
  Equal = 0,
  NotEqual = 1,
  Regexp = 2,
  NotRegexp = 3,
}

export const MATCH_OPERATORS = ['=', '!=', '=~', '!~'] as const;

const regexCache = new Map<string, RegExp>();

/**
 * Compiles a Prometheus (RE2) regular expression as a JavaScript one, anchored at both ends and with
 * `.` matching newlines (Prometheus compiles matchers with `(?s)`). Throws a SyntaxError naming the
 * expression when JavaScript cannot compile it.
 */
export function compileAnchoredRegex(source: string): RegExp {
  let re = regexCache.get(source);
  if (re !== undefined) return re;
  let body = source;
  let flags = 'su';
  // RE2 accepts leading inline flags such as (?i); JavaScript does not, so translate the common ones.
  const m = /^\(\?([imsU]+)\)/.exec(body);
  if (m) {
    body = body.slice(m[0].length);
    if (m[1]!.includes('i')) flags += 'i';
    if (m[1]!.includes('m')) flags += 'm';
  }
  // Each candidate is compiled on its own first: a pattern such as `a)|(b` would otherwise escape the
  // anchoring group and match unanchored.
  const attempt = (src: string, fl: string): RegExp | null => {
    try {
      new RegExp(src, fl);
      return new RegExp(`^(?:${src})$`, fl);
    } catch {
      return null;
    }
  };
  // Order matters: plain JavaScript (Unicode mode) first; then the RE2 translation (flag groups, \pL,
  // \Q…\E, POSIX classes…); last, non-Unicode mode for escapes like `\-` that only it accepts.
  let translated: string | null = null;
  try {
    translated = translateRE2(source);
  } catch {
    translated = null;
  }
  re = attempt(body, flags) ?? (translated !== null ? attempt(translated, 'su') : null) ?? attempt(body, flags.replace('u', '')) ?? undefined;
  if (re === undefined) {
    let why = 'not a valid regular expression';
    try {
      new RegExp(body, flags);
    } catch (err) {
      why = (err as Error).message;
    }
    throw new SyntaxError(`invalid regular expression ${JSON.stringify(source)}: ${why}`);
  }
  if (regexCache.size > 10_000) regexCache.clear();
  regexCache.set(source, re);
  return re;
}

export class Matcher {
  readonly type: MatchType;
  readonly name: string;
  readonly value: string;
  private readonly re: RegExp | null;

  constructor(type: MatchType, name: string, value: string) {
    this.type = type;
    this.name = name;
    this.value = value;
    this.re = type === MatchType.Regexp || type === MatchType.NotRegexp ? compileAnchoredRegex(value) : null;
  }

  matches(v: string): boolean {
    switch (this.type) {
      case MatchType.Equal:
        return v === this.value;
      case MatchType.NotEqual:
        return v !== this.value;
      case MatchType.Regexp:
        return this.re!.test(v);
      case MatchType.NotRegexp:
        return !this.re!.test(v);
    }
  }

  /** True when the matcher selects series that lack the label (it matches the empty string). */
  matchesEmpty(): boolean {
    return this.matches('');
  }

  matchesLabels(ls: Labels): boolean {
    return this.matches(getLabel(ls, this.name));
  }

  toString(): string {
    return `${this.name}${MATCH_OPERATORS[this.type]}${JSON.stringify(this.value)}`;
  }
}

export function matchesAll(ms: readonly Matcher[], ls: Labels): boolean {
  for (const m of ms) if (!m.matchesLabels(ls)) return false;
  return true;
}
