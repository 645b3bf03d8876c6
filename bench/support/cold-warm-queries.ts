/**
 * Range-query latency with a cold and a warm cache: a cold run restarts the server process and sends the
 * query once (the OS page cache stays warm: this measures what the process itself caches); warm runs
 * repeat it on the running process. The servers take turns (A, B, A, B, ...) so both see the same machine
 * load. Answers are checked: cold against warm for each server (exactly), and across servers (within a
 * relative 1e-6).
 */
import { firstDifference, matrixOf, postForm, type MatrixSeries } from './query-client.js';
import { median } from './stats.js';
import { formatTable, ratio } from './table.js';

export interface QueryServer {
  key: string;
  /** Short name for the table ("Argus", "Prom"). */
  short: string;
  title: string;
  url(): string;
  /** Stops the process and starts it again on the same data; resolves once it is ready. */
  restart(): Promise<void>;
}

export interface QueryRange {
  start: number;
  end: number;
  step: number;
}

export interface ColdWarmRow {
  query: string;
  /** Latencies (ms) per server key. */
  cold: Map<string, number[]>;
  warm: Map<string, number[]>;
  series: string;
  same: string;
  problems: string[];
}

async function queryOnce(s: QueryServer, query: string, range: QueryRange, timeoutMs: number): Promise<{ ms: number; m: MatrixSeries[] | string }> {
  try {
    const a = await postForm(
      s.url(),
      '/api/v1/query_range',
      { query, start: String(range.start / 1000), end: String(range.end / 1000), step: String(range.step / 1000), timeout: `${timeoutMs / 1000}s` },
      timeoutMs + 10_000,
    );
    return { ms: a.ms, m: matrixOf(a) };
  } catch (err) {
    return { ms: NaN, m: (err as Error).message };
  }
}

export async function coldWarmQueries(
  servers: readonly QueryServer[],
  queries: readonly string[],
  range: QueryRange,
  o: { coldRuns: number; warmRuns: number; timeoutMs: number; log: (m: string) => void },
): Promise<ColdWarmRow[]> {
  const rows: ColdWarmRow[] = [];
  for (const query of queries) {
    const row: ColdWarmRow = { query, cold: new Map(), warm: new Map(), series: '-', same: '-', problems: [] };
    const coldAnswer = new Map<string, MatrixSeries[]>();
    const warmAnswer = new Map<string, MatrixSeries[]>();
    for (const s of servers) {
      row.cold.set(s.key, []);
      row.warm.set(s.key, []);
    }
    o.log(`${query}: ${o.coldRuns} cold runs (restart, then query) and ${o.warmRuns} warm runs each`);
    const run = async (s: QueryServer, kind: 'cold' | 'warm', i: number): Promise<void> => {
      const { ms, m } = await queryOnce(s, query, range, o.timeoutMs);
      if (typeof m === 'string') row.problems.push(`${s.title} ${kind} run ${i + 1}: ${m}`);
      else (kind === 'cold' ? coldAnswer : warmAnswer).set(s.key, m);
      row[kind].get(s.key)!.push(ms);
    };
    for (let i = 0; i < o.coldRuns; i++) {
      for (const s of servers) {
        await s.restart();
        await run(s, 'cold', i);
      }
    }
    for (let i = 0; i < o.warmRuns; i++) for (const s of servers) await run(s, 'warm', i);
    for (const s of servers) {
      const c = coldAnswer.get(s.key);
      const w = warmAnswer.get(s.key);
      if (c && w) {
        const d = firstDifference(c, w, 1e-12);
        if (d !== null) row.problems.push(`${s.title}: cold and warm answers differ: ${d}`);
      }
    }
    row.series = [...new Set([...warmAnswer.values()].map((m) => m.length))].join('/') || '-';
    const [a, b] = servers.map((s) => warmAnswer.get(s.key));
    if (a && b) {
      const d = firstDifference(a, b, 1e-6);
      row.same = d === null ? 'yes' : 'NO';
      if (d !== null) row.problems.push(`answers differ (${servers[0]!.title} vs ${servers[1]!.title}): ${d}`);
    }
    rows.push(row);
  }
  return rows;
}

/** Median cold and warm latency per server, and the ratio of the first server to the second. */
export function coldWarmTable(rows: readonly ColdWarmRow[], servers: readonly QueryServer[]): string {
  const ms = (x: number): string => (Number.isFinite(x) ? (x >= 99.95 ? x.toFixed(0) : x.toFixed(1)) : '-');
  const [a, b] = servers;
  const pair = a !== undefined && b !== undefined;
  const header = ['query (median ms)'];
  for (const kind of ['cold', 'warm'] as const) {
    for (const s of servers) header.push(`${s.short} ${kind}`);
    if (pair) header.push(`${kind} ${a.short}/${b.short}`);
  }
  header.push('series', 'same answer');
  const body = rows.map((r) => {
    const cells = [r.query];
    for (const kind of ['cold', 'warm'] as const) {
      const m = servers.map((s) => median(r[kind].get(s.key) ?? []));
      cells.push(...m.map(ms));
      if (pair) cells.push(ratio(m[0]!, m[1]!));
    }
    cells.push(r.series, r.same);
    return cells;
  });
  return formatTable(header, body);
}
