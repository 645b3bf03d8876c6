#!/usr/bin/env node
// Runs every test file under test/ and src/ (`*.test.ts`) with node:test through tsx.
// Node 20's runner needs the files listed explicitly; this script lists them, passes extra arguments
// through (e.g. `npm test -- test/receive`), and fails when no test ran.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

let files = [...walk(join(root, 'test'), []), ...walk(join(root, 'src'), [])].sort();
if (filters.length > 0) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('test: no test files found');
  process.exit(1);
}

// Failures also go, one short entry each, to a file printed at the end (see failure-reporter.mjs).
const failuresDir = mkdtempSync(join(tmpdir(), 'argus-test-failures-'));
const failuresFile = join(failuresDir, 'failures.txt');
const args = [
  '--import',
  'tsx',
  '--test',
  '--test-concurrency=2',
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
  `--test-reporter=${join(root, 'scripts', 'failure-reporter.mjs')}`,
  `--test-reporter-destination=${failuresFile}`,
  ...files,
];
const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
// The runner's summary lines (`ℹ tests N`, `ℹ pass N`, ...) are read line by line from the whole output,
// the last of each kept: log lines that child processes print after the summary cannot hide it.
const summary = {};
let partial = '';
const scan = (text) => {
  const lines = (partial + text).split('\n');
  partial = lines.pop() ?? '';
  for (const line of lines) {
    const m = /^ℹ (tests|pass|fail|skipped) (\d+)$/.exec(line.trim());
    if (m) summary[m[1]] = Number(m[2]);
  }
};
child.stdout.on('data', (d) => {
  process.stdout.write(d);
  scan(d.toString());
});
child.on('close', (code, signal) => {
  scan('\n');
  let failures = '';
  try {
    failures = readFileSync(failuresFile, 'utf8');
  } catch {
    // no failure file: the runner wrote nothing there
  }
  rmSync(failuresDir, { recursive: true, force: true });
  if (failures.trim() !== '') console.log(`\nFailed tests (the full account of each is above):\n${failures}`);
  if (!summary.tests) {
    console.error(`test: the runner reported 0 tests (exit code ${code}, signal ${signal}); failing`);
    process.exit(1);
  }
  console.log(`${summary.pass ?? 0} passed, ${summary.fail ?? 0} failed, ${summary.skipped ?? 0} skipped`);
  process.exit(code ?? 1);
});
