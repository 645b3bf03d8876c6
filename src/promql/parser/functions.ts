/** The PromQL function table: argument types, variadic arity, return type, and experimental status. */
import type { FunctionDef, ValueType } from './ast.js';

const V: ValueType = 'vector';
const M: ValueType = 'matrix';
const S: ValueType = 'scalar';
const STR: ValueType = 'string';

function def(
  name: string,
  argTypes: ValueType[],
  returnType: ValueType,
  opts: { variadic?: number; experimental?: boolean } = {},
): FunctionDef {
  return Object.freeze({
    name,
    argTypes: Object.freeze(argTypes),
    variadic: opts.variadic ?? 0,
    returnType,
    experimental: opts.experimental ?? false,
  });
}

const X = { experimental: true };

const LIST: FunctionDef[] = [
  // Math on instant vectors.
  ...['abs', 'ceil', 'exp', 'floor', 'ln', 'log2', 'log10', 'sgn', 'sqrt', 'deg', 'rad'].map((n) => def(n, [V], V)),
  ...['acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh', 'cos', 'cosh', 'sin', 'sinh', 'tan', 'tanh'].map((n) =>
    def(n, [V], V),
  ),
  def('clamp', [V, S, S], V),
  def('clamp_max', [V, S], V),
  def('clamp_min', [V, S], V),
  def('round', [V, S], V, { variadic: 1 }),
  def('pi', [], S),
  // Range-vector functions.
  ...[
    'absent_over_time',
    'avg_over_time',
    'changes',
    'count_over_time',
    'delta',
    'deriv',
    'first_over_time',
    'idelta',
    'increase',
    'irate',
    'last_over_time',
    'max_over_time',
    'min_over_time',
    'present_over_time',
    'rate',
    'resets',
    'stddev_over_time',
    'stdvar_over_time',
    'sum_over_time',
  ].map((n) => def(n, [M], V)),
  ...['mad_over_time', 'ts_of_first_over_time', 'ts_of_last_over_time', 'ts_of_max_over_time', 'ts_of_min_over_time'].map(
    (n) => def(n, [M], V, X),
  ),
  def('quantile_over_time', [S, M], V),
  def('predict_linear', [M, S], V),
  def('double_exponential_smoothing', [M, S, S], V, X),
  // Histograms.
  ...['histogram_avg', 'histogram_count', 'histogram_sum', 'histogram_stddev', 'histogram_stdvar'].map((n) =>
    def(n, [V], V),
  ),
  def('histogram_fraction', [S, S, V], V),
  def('histogram_quantile', [S, V], V),
  def('histogram_quantiles', [V, STR, S, S], V, { variadic: 9, experimental: true }),
  // Time.
  ...['days_in_month', 'day_of_month', 'day_of_week', 'day_of_year', 'hour', 'minute', 'month', 'year'].map((n) =>
    def(n, [V], V, { variadic: 1 }),
  ),
  def('time', [], S),
  def('timestamp', [V], V),
  def('start', [], S, X),
  def('end', [], S, X),
  def('step', [], S, X),
  def('range', [], S, X),
  def('start_timestamp', [V], V, X),
  // Labels, sorting, conversion.
  def('absent', [V], V),
  def('label_replace', [V, STR, STR, STR, STR], V),
  def('label_join', [V, STR, STR, STR], V, { variadic: -1 }),
  def('sort', [V], V),
  def('sort_desc', [V], V),
  def('sort_by_label', [V, STR], V, { variadic: -1, experimental: true }),
  def('sort_by_label_desc', [V, STR], V, { variadic: -1, experimental: true }),
  def('scalar', [V], S),
  def('vector', [S], V),
  def('info', [V, V], V, { variadic: 1, experimental: true }),
  def('max_of', [S, S], S, X),
  def('min_of', [S, S], S, X),
];

export const FUNCTIONS: ReadonlyMap<string, FunctionDef> = new Map(LIST.map((f) => [f.name, f]));

export function getFunction(name: string): FunctionDef | undefined {
  return FUNCTIONS.get(name);
}
