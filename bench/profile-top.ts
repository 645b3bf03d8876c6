/**
 * Summarises V8 .cpuprofile files (from `node --cpu-prof`, e.g. BENCH_ARGUS_CPU_PROF=DIR npm run bench):
 * the top functions by self time, and the same grouped by source file.
 * Run: node --import tsx bench/profile-top.ts FILE.cpuprofile [more files] [--top=N]
 */
import { readFileSync } from 'node:fs';
import { formatTable } from './support/table.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function shortUrl(url: string): string {
  const u = url.replace(/^file:\/\//, '');
  const i = u.indexOf('/src/');
  if (i >= 0) return u.slice(i + 1);
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) return u.slice(nm + 1);
  return u === '' ? '(native/vm)' : u;
}

function main(args: string[]): void {
  const topArg = args.find((a) => a.startsWith('--top='));
  const top = topArg !== undefined ? Number(topArg.slice(6)) : 25;
  const files = args.filter((a) => !a.startsWith('--'));
  if (files.length === 0) {
    process.stderr.write('usage: node --import tsx bench/profile-top.ts FILE.cpuprofile [...] [--top=N]\n');
    process.exit(2);
  }
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const f of files) {
    const p = JSON.parse(readFileSync(f, 'utf8')) as Profile;
    const nodes = new Map(p.nodes.map((n) => [n.id, n]));
    for (let i = 0; i < p.samples.length; i++) {
      const n = nodes.get(p.samples[i]!);
      const dt = p.timeDeltas[i] ?? 0;
      if (n === undefined || dt <= 0) continue;
      const { functionName, url, lineNumber } = n.callFrame;
      if (functionName === '(idle)' && url === '') {
        idle += dt;
        continue;
      }
      total += dt;
      const file = shortUrl(url);
      // Line numbers are of the code V8 ran (for .ts files: tsx's output), shown when known.
      const key = `${functionName || '(anonymous)'}  ${file}${url !== '' && lineNumber > 0 ? `:${lineNumber + 1}` : ''}`;
      byFn.set(key, (byFn.get(key) ?? 0) + dt);
      byFile.set(file, (byFile.get(file) ?? 0) + dt);
    }
  }
  const rows = (m: Map<string, number>): string[][] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => [k, `${(us / 1000).toFixed(0)} ms`, `${((100 * us) / total).toFixed(1)}%`]);
  process.stdout.write(
    `busy ${(total / 1e6).toFixed(2)} s (+ ${(idle / 1e6).toFixed(2)} s idle, not counted) in ${files.length} profile(s); shares are of busy time\n\n`,
  );
  process.stdout.write(formatTable(['function (self time)', 'self', 'share'], rows(byFn)) + '\n\n');
  process.stdout.write(formatTable(['file (self time)', 'self', 'share'], rows(byFile)) + '\n');
}

main(process.argv.slice(2));
