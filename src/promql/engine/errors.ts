/**
 * Query errors and annotations. `PromQLError.errorType` is what the HTTP API maps to a status code;
 * annotations (warnings and infos) are kept keyed by their text, as Prometheus does, and formatted with the
 * position of the sub-expression they are about.
 */
import { formatPosition } from '../parser/errors.js';
import type { PosRange } from '../parser/ast.js';
import { formatFloatG } from '../parser/goutil.js';

export type PromQLErrorType = 'bad_data' | 'execution' | 'timeout' | 'canceled';

export class PromQLError extends Error {
  constructor(
    readonly errorType: PromQLErrorType,
    message: string,
  ) {
    super(message);
    this.name = 'PromQLError';
  }
}

export const TOO_MANY_SAMPLES = 'query processing would load too many samples into memory in query execution';
export const DUPLICATE_LABELSET = 'vector cannot contain metrics with the same labelset';

/** An evaluation error (HTTP 422). */
export function execError(message: string): PromQLError {
  return new PromQLError('execution', message);
}

export type AnnotationKind = 'warning' | 'info';

interface Entry {
  kind: AnnotationKind;
  text: string;
  pos: PosRange;
  merge?: MonotonicityInfo;
}

/** Aggregated data of the "fixed for monotonicity" info, which reports a range over all occurrences. */
export interface MonotonicityInfo {
  minTs: number;
  maxTs: number;
  minBucket: number;
  maxBucket: number;
  maxDiff: number;
  count: number;
}

export class Annotations {
  private readonly entries = new Map<string, Entry>();

  get size(): number {
    return this.entries.size;
  }

  warn(text: string, pos: PosRange): void {
    this.add('warning', text, pos);
  }

  info(text: string, pos: PosRange): void {
    this.add('info', text, pos);
  }

  add(kind: AnnotationKind, text: string, pos: PosRange): void {
    const key = `${kind}\x00${text}`;
    // Later occurrences of the same text replace earlier ones (Prometheus keys annotations by text).
    this.entries.set(key, { kind, text, pos });
  }

  /** The histogram_quantile monotonicity info, merged over occurrences into one summary. */
  addMonotonicity(text: string, pos: PosRange, ts: number, minBucket: number, maxBucket: number, maxDiff: number): void {
    const key = `info\x00${text}`;
    const prev = this.entries.get(key);
    let m: MonotonicityInfo;
    if (prev?.merge !== undefined) {
      const o = prev.merge;
      m = {
        minTs: Math.min(o.minTs, ts),
        maxTs: Math.max(o.maxTs, ts),
        minBucket: Math.min(o.minBucket, minBucket),
        maxBucket: Math.max(o.maxBucket, maxBucket),
        maxDiff: Math.max(o.maxDiff, maxDiff),
        count: o.count + 1,
      };
    } else {
      m = { minTs: ts, maxTs: ts, minBucket, maxBucket, maxDiff, count: 0 };
    }
    this.entries.set(key, { kind: 'info', text, pos, merge: m });
  }

  merge(other: Annotations): void {
    for (const [k, v] of other.entries) this.entries.set(k, v);
  }

  /** Formats as the HTTP API shows them: `PromQL warning: <text> (<line>:<col>)`. */
  format(query: string): { warnings: string[]; infos: string[] } {
    const warnings: string[] = [];
    const infos: string[] = [];
    for (const e of this.entries.values()) {
      const prefix = e.kind === 'warning' ? 'PromQL warning: ' : 'PromQL info: ';
      let body = e.text;
      if (e.merge !== undefined) body += monotonicitySummary(e.merge);
      const s = `${prefix}${body} (${formatPosition(query, e.pos.start)})`;
      (e.kind === 'warning' ? warnings : infos).push(s);
    }
    return { warnings, infos };
  }
}

function rfc3339(ms: number): string {
  return new Date(Math.trunc(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

function monotonicitySummary(m: MonotonicityInfo): string {
  const diff = formatFloatG(Number(m.maxDiff.toPrecision(2)));
  return (
    `, from buckets ${formatFloatG(m.minBucket)} to ${formatFloatG(m.maxBucket)}, with a max diff of ${diff}, over ${m.count + 1} ` +
    `samples from ${rfc3339(m.minTs)} to ${rfc3339(m.maxTs)}`
  );
}
