// Runs the upstream PromQL test scripts (read in place from ../shared/testdata/promqltest/) through our
// script runner: one test per file, a line per file and a total, the unsupported cases by name, and a
// committed floor that fails the suite when the number of passing evals goes down.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runScriptFile, type EvalOutcome } from './promqltest.js';

const DIR = join(import.meta.dirname, '..', '..', '..', 'shared', 'testdata', 'promqltest');
const FLOOR_FILE = join(import.meta.dirname, 'promqltest-floor.json');
const available = existsSync(DIR);
const files = available ? readdirSync(DIR).filter((f) => f.endsWith('.test')).sort() : [];
const verbose = process.env['PROMQLTEST_VERBOSE'] === '1';

if (!available) {
  const msg = `promqltest: ${DIR} is missing; the upstream PromQL scripts were not run`;
  console.warn(`\n*** ${msg} ***\n`);
  if (process.env['CI'] === 'true') {
    it('upstream PromQL scripts are present', () => assert.fail(msg));
  }
}

describe('promqltest: upstream PromQL scripts', { skip: available ? false : `missing ${DIR}` }, () => {
  const all: EvalOutcome[] = [];

  for (const file of files) {
    it(file, async () => {
      const outcomes = await runScriptFile(join(DIR, file), file);
      all.push(...outcomes);
      const p = outcomes.filter((o) => o.status === 'pass').length;
      const f = outcomes.filter((o) => o.status === 'fail').length;
      const s = outcomes.filter((o) => o.status === 'skip').length;
      console.log(`promqltest ${file}: ${p} passed, ${f} failed, ${s} skipped`);
      if (verbose) {
        for (const o of outcomes) if (o.status === 'fail') console.log(`  FAIL ${o.file}:${o.line}: ${o.expr}\n       ${o.detail.split('\n')[0]}`);
      }
    });
  }

  it('totals, unsupported cases and the committed floor', () => {
    const passed = all.filter((o) => o.status === 'pass').length;
    const failed = all.filter((o) => o.status === 'fail');
    const skipped = all.filter((o) => o.status === 'skip');
    const native = skipped.filter((o) => o.nativeHistogram).length;
    console.log(`promqltest: ${passed} passed, ${failed.length} failed, ${skipped.length} skipped (native histograms: ${native})`);
    const other = skipped.filter((o) => !o.nativeHistogram);
    if (skipped.length > 0) {
      console.log(`promqltest: unsupported cases (${skipped.length}):`);
      for (const o of skipped) console.log(`  ${o.file}:${o.line}: ${o.expr}  [${o.detail}]`);
    }
    if (other.length > 0) console.log(`promqltest: ${other.length} skipped for reasons other than native histograms`);
    if (failed.length > 0) {
      console.log(`promqltest: failing cases (${failed.length}):`);
      for (const o of failed) console.log(`  ${o.file}:${o.line}: ${o.expr}\n      ${o.detail.split('\n')[0]!.slice(0, 300)}`);
    }
    const floor = (JSON.parse(readFileSync(FLOOR_FILE, 'utf8')) as { passed: number }).passed;
    assert.ok(passed >= floor, `promqltest: ${passed} passed is below the committed floor of ${floor} (${FLOOR_FILE})`);
  });
});
