#!/usr/bin/env node
// Runs every test file under test/ and src/ (`*.test.ts`) with node:test through tsx.
// Node 20's runner needs the files listed explicitly; this script lists them, passes extra arguments
// through (e.g. `npm test -- test/receive`), and fails when no test ran.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
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

const args = ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files];
const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
let tail = '';
child.stdout.on('data', (d) => {
  process.stdout.write(d);
  tail = (tail + d.toString()).slice(-4000);
});
child.on('close', (code) => {
  const tests = /tests (\d+)/.exec(tail);
  const passed = /pass (\d+)/.exec(tail);
  const failed = /fail (\d+)/.exec(tail);
  const skipped = /skipped (\d+)/.exec(tail);
  const n = tests ? Number(tests[1]) : 0;
  if (n === 0) {
    console.error('test: the runner reported 0 tests; failing');
    process.exit(1);
  }
  console.log(`${passed ? passed[1] : 0} passed, ${failed ? failed[1] : 0} failed, ${skipped ? skipped[1] : 0} skipped`);
  process.exit(code ?? 1);
});
