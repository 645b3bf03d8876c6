/** Reading a server's own /metrics in benchmarks. */

/** Sum of every sample of metric `name` in a text exposition (NaN when there is none). */
export function sumMetric(exposition: string, name: string): number {
  let sum = NaN;
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(name)) continue;
    const c = line.charAt(name.length);
    if (c !== ' ' && c !== '{') continue;
    const rest = c === '{' ? line.slice(line.lastIndexOf('}') + 1) : line.slice(name.length);
    const v = Number(rest.trim().split(' ')[0]);
    if (Number.isFinite(v)) sum = (Number.isNaN(sum) ? 0 : sum) + v;
  }
  return sum;
}

/**
 * Like sumMetric, over only the samples of `name` whose label text (between the braces) contains
 * `labelText`, e.g. `type="storage/` to pick VictoriaMetrics's data rows out of vm_rows. NaN when none.
 */
export function sumMetricWith(exposition: string, name: string, labelText: string): number {
  let sum = NaN;
  const head = `${name}{`;
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(head)) continue;
    const close = line.lastIndexOf('}');
    if (close < 0 || !line.slice(head.length, close).includes(labelText)) continue;
    const v = Number(line.slice(close + 1).trim().split(' ')[0]);
    if (Number.isFinite(v)) sum = (Number.isNaN(sum) ? 0 : sum) + v;
  }
  return sum;
}
