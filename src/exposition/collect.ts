/**
 * Materialises a whole exposition as plain objects — one per entry. Convenient for tests, tools and
 * small inputs; the scrape path uses the cursor directly and allocates nothing per known series.
 */
import type { Labels } from '../model/labels.js';
import { Entry, type Exemplar, type ExpositionParser, type MetricType } from './types.js';

export type ParsedEntry =
  | {
      kind: 'series';
      line: number;
      name: string;
      labels: Labels;
      value: number;
      timestamp: number | null;
      type: MetricType;
      family: string;
      exemplar?: Exemplar;
      created?: number;
    }
  | { kind: 'type'; line: number; name: string; type: MetricType }
  | { kind: 'help'; line: number; name: string; help: string }
  | { kind: 'unit'; line: number; name: string; unit: string }
  | { kind: 'comment'; line: number; text: string };

/** Reads `p` to its end. `created` asks for OpenMetrics created timestamps too (costs a second pass per family). */
export function collectEntries(p: ExpositionParser, opts: { created?: boolean } = {}): ParsedEntry[] {
  const out: ParsedEntry[] = [];
  for (let e = p.next(); e !== Entry.EOF; e = p.next()) {
    const line = p.line();
    switch (e) {
      case Entry.Series: {
        const entry: ParsedEntry = {
          kind: 'series',
          line,
          name: p.metricName(),
          labels: p.labels(),
          value: p.value(),
          timestamp: p.timestamp(),
          type: p.type(),
          family: p.familyName(),
        };
        const ex = p.exemplar();
        if (ex !== null) entry.exemplar = ex;
        if (opts.created) {
          const c = p.createdTimestamp();
          if (c !== null) entry.created = c;
        }
        out.push(entry);
        break;
      }
      case Entry.Type:
        out.push({ kind: 'type', line, name: p.metricName(), type: p.type() });
        break;
      case Entry.Help:
        out.push({ kind: 'help', line, name: p.metricName(), help: p.help() });
        break;
      case Entry.Unit:
        out.push({ kind: 'unit', line, name: p.metricName(), unit: p.unit() });
        break;
      case Entry.Comment:
        out.push({ kind: 'comment', line, text: p.comment() });
        break;
    }
  }
  return out;
}
