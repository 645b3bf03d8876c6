/** `label_replace`, `label_join` and the natural order used by `sort_by_label`. */
import type { Labels } from '../../../model/labels.js';
import { getLabel, labelsFromPairs, METRIC_NAME } from '../../../model/labels.js';
import { compileAnchoredRegex } from '../../../model/matcher.js';
import { execError } from '../errors.js';
import type { Evaluator } from '../evaluator.js';
import { isValidLabelName, mergeSameLabelset } from '../labels.js';
import type { CallNode } from '../plan.js';
import type { Matrix } from '../value.js';

function str(n: CallNode, i: number): string {
  const a = n.args[i];
  if (a === undefined || a.k !== 'str') throw execError(`expected a string literal as argument ${i + 1} of ${n.name}`);
  return a.val;
}

function setLabel(ls: Labels, name: string, value: string): Labels {
  const pairs: [string, string][] = [];
  for (let i = 0; i < ls.length; i += 2) if (ls[i] !== name) pairs.push([ls[i]!, ls[i + 1]!]);
  if (value !== '') pairs.push([name, value]);
  return labelsFromPairs(pairs);
}

const NAME_CHAR = /[A-Za-z0-9_]/;

/** Go's Regexp.Expand: `$1`, `${1}`, `$name`, `${name}`, `$$`; anything malformed stays literal. */
function expand(template: string, m: RegExpExecArray): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const d = template.indexOf('$', i);
    if (d < 0) break;
    out += template.slice(i, d);
    i = d + 1;
    if (template[i] === '$') {
      out += '$';
      i++;
      continue;
    }
    let j = i;
    const brace = template[j] === '{';
    if (brace) j++;
    const nameStart = j;
    while (j < template.length && NAME_CHAR.test(template[j]!)) j++;
    const name = template.slice(nameStart, j);
    if (name === '' || (brace && template[j] !== '}')) {
      out += '$';
      continue;
    }
    if (brace) j++;
    i = j;
    if (/^[0-9]+$/.test(name)) {
      const num = Number(name);
      if (num < m.length) out += m[num] ?? '';
    } else {
      out += m.groups?.[name] ?? '';
    }
  }
  return out + template.slice(i);
}

export async function labelReplace(ev: Evaluator, n: CallNode): Promise<Matrix> {
  const dst = str(n, 1);
  const repl = str(n, 2);
  const src = str(n, 3);
  const regexStr = str(n, 4);
  let re: RegExp;
  try {
    re = compileAnchoredRegex(regexStr);
  } catch {
    throw execError(`invalid regular expression in label_replace(): ${regexStr}`);
  }
  if (!isValidLabelName(dst)) throw execError(`invalid destination label name in label_replace(): ${dst}`);
  const m = await ev.evalMatrix(n.args[0]!);
  for (const s of m) {
    const value = getLabel(s.labels, src);
    re.lastIndex = 0;
    const match = re.exec(value);
    if (match === null) continue;
    s.labels = setLabel(s.labels, dst, expand(repl, match));
    s.dropName = dst === METRIC_NAME ? false : s.dropName;
  }
  return mergeSameLabelset(m);
}

export async function labelJoin(ev: Evaluator, n: CallNode): Promise<Matrix> {
  const dst = str(n, 1);
  const sep = str(n, 2);
  const srcs: string[] = [];
  for (let i = 3; i < n.args.length; i++) {
    const s = str(n, i);
    if (!isValidLabelName(s)) throw execError(`invalid source label name in label_join(): ${s}`);
    srcs.push(s);
  }
  if (!isValidLabelName(dst)) throw execError(`invalid destination label name in label_join(): ${dst}`);
  const m = await ev.evalMatrix(n.args[0]!);
  for (const s of m) {
    const value = srcs.map((l) => getLabel(s.labels, l)).join(sep);
    s.labels = setLabel(s.labels, dst, value);
    s.dropName = dst === METRIC_NAME ? false : s.dropName;
  }
  return mergeSameLabelset(m);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Natural order: runs of digits compare by numeric value, everything else character by character. */
export function naturalLess(a: string, b: string): boolean {
  const la = a.length;
  const lb = b.length;
  let pa = 0;
  let pb = 0;
  for (;;) {
    if (la <= pa) return lb > pb;
    if (lb <= pb) return false;
    let av = a.charCodeAt(pa);
    let bv = b.charCodeAt(pb);
    if (isDigit(av) && isDigit(bv)) {
      let na = 1;
      let nb = 1;
      for (;;) {
        if (pa + na >= la) break;
        const x = a.charCodeAt(pa + na);
        if (av === 48) {
          pa++;
          av = x;
          continue;
        }
        if (isDigit(x)) na++;
        else break;
      }
      for (;;) {
        if (pb + nb >= lb) break;
        const x = b.charCodeAt(pb + nb);
        if (bv === 48) {
          pb++;
          bv = x;
          continue;
        }
        if (isDigit(x)) nb++;
        else break;
      }
      if (nb > na) return true;
      if (na > nb) return false;
      const sa = a.slice(pa, pa + na);
      const sb = b.slice(pb, pb + nb);
      if (sa < sb) return true;
      if (sa > sb) return false;
      pa += na;
      pb += nb;
      continue;
    }
    if (av === bv) {
      pa++;
      pb++;
      continue;
    }
    return av < bv;
  }
}
