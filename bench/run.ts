/**
 * `npm run bench [-- name...]`: runs the named benchmarks, or all of them, one after the other.
 * A benchmark is an async function that prints its own report and resolves to false when a run failed
 * (the exit code is then 1). Add new ones to BENCHMARKS.
 */
const BENCHMARKS: Record<string, { summary: string; run: () => Promise<boolean> }> = {
  ingest: {
    summary: 'remote-write ingest into Argus, Prometheus and VictoriaMetrics (samples/s, CPU/sample, RSS)',
    run: async () => (await import('./ingest.js')).runIngest(),
  },
  query: {
    summary: 'PromQL range queries over 10k series x 6 h in Argus and Prometheus 2.42 (median latency, ratio)',
    run: async () => (await import('./query.js')).runQuery(),
  },
  storage: {
    summary: '7 days of node-exporter-like data in Argus, Prometheus 2.42 and VictoriaMetrics 1.79: bytes/sample, 7-day query latency',
    run: async () => (await import('./storage.js')).runStorage(),
  },
  scrape: {
    summary: 'scrape cost: 200 targets x 1000 series every 15 s, Argus agent vs Prometheus 2.42 agent mode (CPU s per million samples, RSS)',
    run: async () => (await import('./scrape.js')).runScrape(),
  },
};

function usage(): string {
  const names = Object.entries(BENCHMARKS).map(([n, b]) => `  ${n.padEnd(12)} ${b.summary}`);
  return ['usage: npm run bench [-- <benchmark>...]   (no name: all)', '', 'benchmarks:', ...names, ''].join('\n');
}

async function main(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(usage());
    return 0;
  }
  const unknown = args.filter((a) => !Object.hasOwn(BENCHMARKS, a));
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown benchmark ${unknown.join(', ')}\n\n${usage()}`);
    return 2;
  }
  const names = args.length > 0 ? [...new Set(args)] : Object.keys(BENCHMARKS);
  let ok = true;
  for (const [i, name] of names.entries()) {
    if (i > 0) process.stdout.write('\n');
    process.stdout.write(`=== ${name} ===\n`);
    ok = (await BENCHMARKS[name]!.run()) && ok;
  }
  return ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
