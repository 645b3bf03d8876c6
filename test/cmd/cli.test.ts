import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const made: string[] = [];
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function argus(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cmd/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('argus --help lists the roles; argus <role> --help lists its flags', () => {
  const h = argus('--help');
  assert.equal(h.code, 0);
  assert.match(h.out, /^\s+all\s/m);
  assert.match(h.out, /^\s+receive\s/m);
  const r = argus('receive', '--help');
  assert.equal(r.code, 0);
  for (const f of ['--web.listen-address', '--storage.tsdb.path', '--config.file', '--log.level']) assert.ok(r.out.includes(f), f);
  assert.match(argus('all', '--help').out, /default: "0\.0\.0\.0:9090"/);
});

test('bad flags, roles and config exit with code 2 and name what was wrong', () => {
  const flag = argus('receive', '--web.listen-adress=1');
  assert.equal(flag.code, 2);
  assert.match(flag.err, /web\.listen-adress/);
  const role = argus('recieve');
  assert.equal(role.code, 2);
  assert.match(role.err, /unknown role "recieve"/);
  assert.equal(argus().code, 2);
  const addr = argus('receive', '--web.listen-address=nope');
  assert.equal(addr.code, 2);
  assert.match(addr.err, /--web\.listen-address must be host:port/);
  const lvl = argus('receive', '--log.level=loud');
  assert.equal(lvl.code, 2);
  const dir = tempDir('argus-cli-');
  const cfg = join(dir, 'argus.yml');
  writeFileSync(cfg, 'limits:\n  ingestion_rate: -1\nreceive:\n  ha_tracker:\n    failover_timeuot: 10s\n');
  const c = argus('receive', `--config.file=${cfg}`, `--storage.tsdb.path=${dir}`);
  assert.equal(c.code, 2);
  assert.match(c.err, /limits\.ingestion_rate/);
  assert.match(c.err, /receive\.ha_tracker\.failover_timeuot/);
  const missing = argus('receive', `--config.file=${join(dir, 'nope.yml')}`);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /cannot read config file/);
});
