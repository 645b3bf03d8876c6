/** Numeric helpers shared by functions and aggregations: Kahan summation and quantiles. */

let compensation = 0;

/**
 * One step of Kahan-Babuška summation: returns the new sum of `inc` and `sum` with compensation `c`; the new
 * compensation is read with `kahanC()` right after.
 */
export function kahanInc(inc: number, sum: number, c: number): number {
  const t = sum + inc;
  if (t > Number.MAX_VALUE || t < -Number.MAX_VALUE) c = 0;
  else if (Math.abs(sum) >= Math.abs(inc)) c += sum - t + inc;
  else c += inc - t + sum;
  compensation = c;
  return t;
}

export function kahanC(): number {
  return compensation;
}

/** Ascending, NaN first (Prometheus's order for quantiles). */
export function compareNaNFirst(a: number, b: number): number {
  const an = Number.isNaN(a);
  const bn = Number.isNaN(b);
  if (an || bn) return an && bn ? 0 : an ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The q-quantile of `values` (reordered in place), interpolating between the closest ranks. */
export function quantileOf(q: number, values: Float64Array): number {
  const n = values.length;
  if (n === 0 || Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  let hasNaN = false;
  for (let i = 0; i < n; i++) if (Number.isNaN(values[i]!)) hasNaN = true;
  const rank = q * (n - 1);
  const lower = Math.max(0, Math.floor(rank));
  const upper = Math.min(n - 1, lower + 1);
  const weight = rank - Math.floor(rank);
  if (hasNaN) {
    // NaNs sort first, as in Prometheus.
    values.sort(compareNaNFirst);
    return values[lower]! * (1 - weight) + values[upper]! * weight;
  }
  // Only two order statistics are needed: select them instead of sorting.
  select(values, lower);
  let up = values[lower]!;
  if (upper > lower) {
    up = values[upper]!;
    for (let i = upper + 1; i < n; i++) if (values[i]! < up) up = values[i]!;
  }
  return values[lower]! * (1 - weight) + up * weight;
}

/** Reorders v so that v[k] is the k-th smallest, smaller values before it and larger after (no NaNs). */
function select(v: Float64Array, k: number): void {
  let lo = 0;
  let hi = v.length - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // Median of three as the pivot.
    const a = v[lo]!;
    const b = v[mid]!;
    const c = v[hi]!;
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (v[i]! < pivot) i++;
      while (v[j]! > pivot) j--;
      if (i <= j) {
        const t = v[i]!;
        v[i] = v[j]!;
        v[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}
