/**
 * Printing expressions back to PromQL: `formatExpr` gives Prometheus's canonical one-line form
 * (`Expr.String()`), `prettyExpr` the indented form that `/api/v1/format_query` returns (`Expr.Pretty(0)`).
 */
import { METRIC_NAME } from '../../model/labels.js';
import { MATCH_OPERATORS, MatchType, type Matcher } from '../../model/matcher.js';
import {
  aggregateHasParam,
  type AggregateExpr,
  type AtPreprocessor,
  type BinaryExpr,
  type DurationExpr,
  type Expr,
  type MatrixSelector,
  type SubqueryExpr,
  type VectorSelector,
} from './ast.js';
import { formatFloatF, formatFloatG, formatPromDuration, goQuote, utf8Length } from './goutil.js';

const LEGACY_LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function labelName(s: string): string {
  return LEGACY_LABEL.test(s) ? s : goQuote(s);
}

function labelList(ls: readonly string[]): string {
  return ls.map(labelName).join(', ');
}

/** A matcher as Prometheus prints it: `name="value"`, the name quoted when not a legacy identifier. */
export function formatMatcher(m: Matcher): string {
  return `${labelName(m.name)}${MATCH_OPERATORS[m.type]}${goQuote(m.value)}`;
}

/** Orders strings by UTF-8 bytes (code points), as Go's sort.Strings does. */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

function formatOffset(offset: number, offsetExpr: DurationExpr | null): string {
  if (offsetExpr !== null) return ` offset ${formatDurationExpr(offsetExpr)}`;
  if (offset > 0) return ` offset ${formatPromDuration(offset)}`;
  if (offset < 0) return ` offset -${formatPromDuration(-offset)}`;
  return '';
}

function formatAt(at: number | null, startOrEnd: AtPreprocessor | null): string {
  if (at !== null) return ` @ ${(at / 1000).toFixed(3)}`;
  if (startOrEnd !== null) return ` @ ${startOrEnd}()`;
  return '';
}

function formatVectorSelector(vs: VectorSelector, withModifiers: boolean): string {
  const parts: string[] = [];
  for (const m of vs.matchers) {
    if (m.name === METRIC_NAME && m.type === MatchType.Equal && m.value === vs.name && m.value !== '') continue;
    parts.push(formatMatcher(m));
  }
  let s = vs.name;
  if (parts.length > 0) s += `{${parts.sort(compareCodePoints).join(',')}}`;
  if (!withModifiers) return s;
  s += formatAt(vs.at, vs.startOrEnd);
  if (vs.anchored) s += ' anchored';
  else if (vs.smoothed) s += ' smoothed';
  return s + formatOffset(vs.offset, vs.offsetExpr);
}

function rangeText(range: number, rangeExpr: DurationExpr | null): string {
  return rangeExpr !== null ? formatDurationExpr(rangeExpr) : formatPromDuration(range);
}

function formatMatrixSelector(ms: MatrixSelector): string {
  const vs = ms.vectorSelector;
  const ext = vs.anchored ? ' anchored' : vs.smoothed ? ' smoothed' : '';
  return (
    `${formatVectorSelector(vs, false)}[${rangeText(ms.range, ms.rangeExpr)}]${ext}` +
    `${formatAt(vs.at, vs.startOrEnd)}${formatOffset(vs.offset, vs.offsetExpr)}`
  );
}

function subquerySuffix(sq: SubqueryExpr): string {
  let step = '';
  if (sq.step !== 0) step = formatPromDuration(sq.step);
  else if (sq.stepExpr !== null) step = formatDurationExpr(sq.stepExpr);
  return `[${rangeText(sq.range, sq.rangeExpr)}:${step}]${formatAt(sq.at, sq.startOrEnd)}${formatOffset(sq.offset, sq.offsetExpr)}`;
}

function formatDurationExpr(d: DurationExpr): string {
  let s: string;
  switch (d.op) {
    case 'step':
    case 'range':
      s = `${d.op}()`;
      break;
    case 'min_of':
    case 'max_of':
      s = `${d.op}(${formatExpr(d.lhs!)}, ${formatExpr(d.rhs!)})`;
      break;
    default:
      if (d.lhs === null) s = d.op === '-' ? `-${formatExpr(d.rhs!)}` : formatExpr(d.rhs!);
      else s = `${formatExpr(d.lhs)} ${d.op} ${formatExpr(d.rhs!)}`;
  }
  return d.wrapped ? `(${s})` : s;
}

function aggregatePrefix(e: AggregateExpr): string {
  if (e.without) return `${e.op} without (${labelList(e.grouping)}) `;
  if (e.grouping.length > 0) return `${e.op} by (${labelList(e.grouping)}) `;
  return e.op;
}

/** The operator with `bool`, matching and fill modifiers, as printed between the operands. */
function binaryOperator(e: BinaryExpr): string {
  let s = e.op + (e.returnBool ? ' bool' : '');
  const vm = e.matching;
  if (vm === null) return s;
  const grouped = vm.card === 'many-to-one' || vm.card === 'one-to-many';
  if (vm.labels.length > 0 || vm.on || grouped) s += ` ${vm.on ? 'on' : 'ignoring'} (${labelList(vm.labels)})`;
  if (grouped) s += ` group_${vm.card === 'many-to-one' ? 'left' : 'right'} (${labelList(vm.include)})`;
  const { lhs, rhs } = vm.fill;
  // Go compares the two values with ==, so NaN fills print as fill_left/fill_right.
  if (lhs !== null && rhs !== null && lhs === rhs) {
    s += ` fill (${formatFloatG(lhs)})`;
  } else {
    if (lhs !== null) s += ` fill_left (${formatFloatG(lhs)})`;
    if (rhs !== null) s += ` fill_right (${formatFloatG(rhs)})`;
  }
  return s;
}

/** Prometheus's canonical single-line form of an expression. */
export function formatExpr(e: Expr): string {
  switch (e.type) {
    case 'NumberLiteral':
      if (e.duration) return e.val < 0 ? `-${formatPromDuration(-e.val * 1000)}` : formatPromDuration(e.val * 1000);
      return formatFloatF(e.val);
    case 'StringLiteral':
      return goQuote(e.val);
    case 'VectorSelector':
      return formatVectorSelector(e, true);
    case 'MatrixSelector':
      return formatMatrixSelector(e);
    case 'SubqueryExpr':
      return formatExpr(e.expr) + subquerySuffix(e);
    case 'Call':
      return `${e.func.name}(${e.args.map(formatExpr).join(', ')})`;
    case 'AggregateExpr': {
      const args = aggregateHasParam(e.op) && e.param !== null ? `${formatExpr(e.param)}, ${formatExpr(e.expr)}` : formatExpr(e.expr);
      return `${aggregatePrefix(e)}(${args})`;
    }
    case 'BinaryExpr':
      return `${formatExpr(e.lhs)} ${binaryOperator(e)} ${formatExpr(e.rhs)}`;
    case 'UnaryExpr':
      return e.op + formatExpr(e.expr);
    case 'ParenExpr':
      return `(${formatExpr(e.expr)})`;
    case 'DurationExpr':
      return formatDurationExpr(e);
  }
}

const INDENT = '  ';

/**
 * Prometheus's prettified form (what `/api/v1/format_query` returns): a node whose one-line form is longer
 * than `maxWidth` bytes is split over lines, children indented by two spaces per level.
 */
export function prettyExpr(e: Expr, maxWidth = 100): string {
  const needsSplit = (n: Expr): boolean => utf8Length(formatExpr(n)) > maxWidth;
  const pretty = (n: Expr, level: number): string => {
    const ind = INDENT.repeat(level);
    switch (n.type) {
      case 'AggregateExpr': {
        if (!needsSplit(n)) return ind + formatExpr(n);
        let s = `${ind}${aggregatePrefix(n)}(\n`;
        if (aggregateHasParam(n.op) && n.param !== null) s += `${pretty(n.param, level + 1)},\n`;
        return `${s}${pretty(n.expr, level + 1)}\n${ind})`;
      }
      case 'BinaryExpr':
        if (!needsSplit(n)) return ind + formatExpr(n);
        return `${pretty(n.lhs, level + 1)}\n${ind}${binaryOperator(n)}\n${pretty(n.rhs, level + 1)}`;
      case 'Call':
        if (!needsSplit(n)) return ind + formatExpr(n);
        return `${ind}${n.func.name}(\n${n.args.map((a) => pretty(a, level + 1)).join(',\n')}\n${ind})`;
      case 'ParenExpr':
        if (!needsSplit(n)) return ind + formatExpr(n);
        return `${ind}(\n${pretty(n.expr, level + 1)}\n${ind})`;
      case 'SubqueryExpr':
        if (!needsSplit(n)) return formatExpr(n);
        return pretty(n.expr, level) + subquerySuffix(n);
      case 'UnaryExpr':
        return `${ind}${n.op}${pretty(n.expr, level).trim()}`;
      case 'DurationExpr':
        return formatDurationExpr(n);
      default:
        return ind + formatExpr(n);
    }
  };
  return pretty(e, 0);
}
