/** `argus agent` on the command line: help, and bad input exits with code 2 naming what was wrong. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `argus ...args` (bounded to 30 s) and collects its exit code and output. */
function argus(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cmd/main.ts', ...args], { cwd: ROOT, timeout: 30_000 });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

test('argus agent --help lists Prometheus agent-mode flags; argus --help lists the role', async () => {
  const [h, top] = await Promise.all([argus('agent', '--help'), argus('--help')]);
  assert.equal(h.code, 0);
  for (const f of ['--config.file', '--storage.agent.path', '--web.listen-address', '--web.enable-lifecycle', '--storage.agent.max-wal-bytes', '--storage.remote.flush-deadline', '--log.level']) {
    assert.ok(h.out.includes(f), `${f} in:\n${h.out}`);
  }
  assert.match(h.out, /--storage\.agent\.path=VALUE\n.*\(default: "data-agent\/"\)/);
  assert.match(top.out, /^\s+agent\s+Scrape/m);
});

test('argus agent: a bad prometheus.yml, flag or demo config exits 2 naming the key path', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'argus-agent-cli-'));
  const bad = join(dir, 'bad.yml');
  writeFileSync(
    bad,
    'global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n    scrape_interval: soon\n    static_configs:\n      - targets: ["x:1"]\n',
  );
  const rules = join(dir, 'rules.yml');
  writeFileSync(rules, 'scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ["http://x:1"]\nrule_files: [r.yml]\n');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const data = `--storage.agent.path=${join(dir, 'data')}`;
  const [cfg, agentMode, missing, bytes, deadline, demo] = await Promise.all([
    argus('agent', `--config.file=${bad}`, data, '--web.listen-address=127.0.0.1:0'),
    argus('agent', `--config.file=${rules}`, data, '--web.listen-address=127.0.0.1:0'),
    argus('agent', `--config.file=${join(dir, 'nope.yml')}`, data),
    argus('agent', `--config.file=${bad}`, '--storage.agent.max-wal-bytes=lots'),
    argus('agent', `--config.file=${bad}`, '--storage.remote.flush-deadline=1 minute'),
    argus('all', '--demo', `--demo.config=${bad}`, `--storage.tsdb.path=${join(dir, 'all')}`, '--web.listen-address=127.0.0.1:0'),
  ]);
  assert.equal(cfg.code, 2, cfg.err);
  assert.match(cfg.err, /scrape_configs\[0\]\.scrape_interval/);
  assert.equal(agentMode.code, 2, agentMode.err);
  assert.match(agentMode.err, /scrape_configs\[0\]\.static_configs\[0\]\.targets\[0\]/);
  assert.match(agentMode.err, /rule_files/, 'agent mode rejects rule_files as Prometheus does');
  assert.equal(missing.code, 2);
  assert.match(missing.err, /cannot read config file .*nope\.yml/);
  assert.equal(bytes.code, 2);
  assert.match(bytes.err, /--storage\.agent\.max-wal-bytes must be a byte size .*"lots"/);
  assert.equal(deadline.code, 2);
  assert.match(deadline.err, /--storage\.remote\.flush-deadline: not a valid duration/);
  assert.equal(demo.code, 2, demo.err);
  assert.match(demo.err, /scrape_configs\[0\]\.scrape_interval/);
});
