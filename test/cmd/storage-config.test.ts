/**
 * Long-term storage settings: the Argus YAML sections (storage.bucket/ship, compactor, store), Thanos's
 * objstore file (--objstore.config-file), the compactor and store flags, and which bucket each role uses.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { ConfigError, compactorRanges, parseConfig, parseObjstoreConfig } from '../../src/config/index.js';
import { applyStorageFlags, bucketSettings } from '../../src/cmd/storage-runtime.js';
import { UsageError, roleHelp } from '../../src/cmd/flags.js';
import { allRole } from '../../src/cmd/all.js';
import { storeRole } from '../../src/cmd/store.js';
import { compactRole } from '../../src/cmd/compact.js';

const made: string[] = [];
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function configError(yaml: string): string {
  try {
    parseConfig(yaml);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError, got ${(err as Error).name}: ${(err as Error).message}`);
    return err.message;
  }
  assert.fail(`accepted: ${yaml}`);
}

test('storage, compactor and store sections: values, defaults and errors naming the key path', () => {
  const cfg = parseConfig(`
storage:
  tsdb: {block_range: 1m, retention: 30m}
  bucket: {type: s3, bucket: metrics, endpoint: "127.0.0.1:9000", region: eu-west-1, force_path_style: true, access_key: a, secret_key: b, insecure: true}
  ship: {interval: 10s, external_labels: {cluster: eu1}}
compactor:
  retention: {raw: 30d, 5m: 90d, 1h: 1y}
  delete_delay: 1h
  downsampling: {enabled: false}
store: {cache_bytes: 64MiB, sync_interval: 30s}
`);
  assert.equal(cfg.storage.tsdb.retention, 30 * 60_000);
  assert.deepEqual(cfg.storage.bucket, { type: 's3', bucket: 'metrics', endpoint: '127.0.0.1:9000', region: 'eu-west-1', force_path_style: true, access_key: 'a', secret_key: 'b', insecure: true });
  assert.deepEqual(cfg.storage.ship, { interval: 10_000, external_labels: { cluster: 'eu1' } });
  assert.deepEqual(cfg.compactor.retention, { raw: 30 * 86_400_000, '5m': 90 * 86_400_000, '1h': 365 * 86_400_000 });
  assert.equal(cfg.compactor.delete_delay, 3_600_000);
  assert.equal(cfg.compactor.downsampling.enabled, false);
  assert.deepEqual(compactorRanges(cfg), [60_000, 240_000, 1_440_000], 'levels follow the block range: x1, x4, x24');
  assert.equal(cfg.store.cache_bytes, 64 * 1024 * 1024);

  const d = parseConfig('');
  assert.equal(d.storage.bucket, undefined);
  assert.deepEqual(compactorRanges(d), [2 * 3_600_000, 8 * 3_600_000, 48 * 3_600_000], 'Thanos default: 2h, 8h, 2d');
  assert.deepEqual(d.compactor.retention, { raw: 0, '5m': 0, '1h': 0 }, 'forever by default');
  assert.equal(d.compactor.delete_delay, 48 * 3_600_000);
  assert.equal(d.store.cache_bytes, 256 * 1024 * 1024);

  assert.match(configError('storage:\n  bucket: {type: gcs}\n'), /storage\.bucket\.type: type must be "filesystem" or "s3"/);
  assert.match(configError('storage:\n  bucket: {type: s3}\n'), /storage\.bucket\.bucket: is required/);
  assert.match(configError('storage:\n  bucket: {type: s3, bucket: x, endpont: y}\n'), /unknown key storage\.bucket\.endpont/);
  assert.match(configError('storage:\n  bucket: {type: filesystem, directory: ""}\n'), /storage\.bucket\.directory: directory must not be empty/);
  assert.match(configError('storage:\n  ship: {external_labels: {tenant_id: x}}\n'), /storage\.ship\.external_labels\.tenant_id: "tenant_id" is set per tenant/);
  assert.match(configError('storage:\n  ship: {external_labels: {"a-b": x}}\n'), /storage\.ship\.external_labels\.a-b: "a-b" is not a valid label name/);
  assert.match(configError('compactor:\n  block_ranges: [1m, 3m, 5m]\n'), /compactor\.block_ranges\.2: 300000ms is not a multiple of the previous range 180000ms/);
  assert.match(configError('compactor:\n  retention: {raw: 1x}\n'), /compactor\.retention\.raw: not a valid duration string: "1x"/);
  assert.match(configError('compactor:\n  retention: {6m: 1d}\n'), /unknown key compactor\.retention\.6m/);
  assert.match(configError('store: {cache_bytes: lots}\n'), /store\.cache_bytes: not a byte size/);
  assert.match(configError('store: {sync_interval: 0s}\n'), /store\.sync_interval: must be positive/);
});

test("--objstore.config-file: Thanos's FILESYSTEM and S3 shapes; unsupported fields are errors naming them", () => {
  assert.deepEqual(parseObjstoreConfig('type: FILESYSTEM\nconfig:\n  directory: /var/argus/bucket\n'), { type: 'filesystem', directory: '/var/argus/bucket' });
  assert.deepEqual(parseObjstoreConfig('type: filesystem\nconfig: {}\nprefix: ""\n'), { type: 'filesystem' });
  assert.deepEqual(
    parseObjstoreConfig('type: S3\nconfig:\n  bucket: b\n  endpoint: s3.example:443\n  region: r\n  access_key: a\n  secret_key: s\n  insecure: false\n  bucket_lookup_type: path\n'),
    { type: 's3', bucket: 'b', endpoint: 's3.example:443', region: 'r', access_key: 'a', secret_key: 's', insecure: false, force_path_style: true },
  );
  assert.equal((parseObjstoreConfig('type: s3\nconfig: {bucket: b, bucket_lookup_type: virtual-hosted}\n') as { force_path_style?: boolean }).force_path_style, false);
  assert.equal((parseObjstoreConfig('type: s3\nconfig: {bucket: b, bucket_lookup_type: auto}\n') as { force_path_style?: boolean }).force_path_style, undefined);
  const bad: [string, RegExp][] = [
    ['type: GCS\nconfig: {bucket: b}\n', /type: must be FILESYSTEM or S3 \(got "GCS"\)/],
    ['config: {bucket: b}\n', /type: must be FILESYSTEM or S3 \(got undefined\)/],
    ['type: S3\nconfig: {bucket: b, sse_config: {type: SSE-S3}}\n', /config: sse_config not supported by Argus's S3 bucket/],
    ['type: S3\nconfig: {bucket: b, bucket_lookup_type: dns}\n', /config\.bucket_lookup_type: must be auto, virtual-hosted or path/],
    ['type: S3\nconfig: {endpoint: x}\n', /config\.bucket: is required/],
    ['type: S3\nconfig: {bucket: 7}\n', /config\.bucket: must be a string/],
    ['type: FILESYSTEM\nconfig: {dir: x}\n', /unknown key config\.dir/],
    ['type: FILESYSTEM\nconfig: {directory: x}\nprefix: tenants/\n', /prefix: only the bucket root is supported/],
    ['type: FILESYSTEM\nbucket: x\n', /unknown key bucket/],
    ['- a\n- b\n', /expected a mapping with "type" and "config"/],
    ['type: S3\nconfig: [1]\n', /config: expected a mapping/],
    ['type: [S3\n', /invalid YAML/],
    ['', /expected a mapping/],
  ];
  for (const [text, re] of bad) {
    assert.throws(() => parseObjstoreConfig(text, 'objstore.yml'), (err: Error) => err instanceof ConfigError && err.message.startsWith('objstore.yml: ') && re.test(err.message), text);
  }
});

test('parseObjstoreConfig: any YAML either parses to a bucket or fails with a ConfigError (property)', () => {
  const scalar = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null));
  const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 8 }), scalar, { maxKeys: 3 }));
  const key = fc.constantFrom('bucket', 'endpoint', 'region', 'access_key', 'secret_key', 'insecure', 'bucket_lookup_type', 'force_path_style', 'directory', 'other');
  const doc = fc.record(
    {
      type: fc.oneof(fc.constantFrom('S3', 's3', 'FILESYSTEM', 'filesystem', 'GCS'), scalar),
      config: fc.oneof(fc.dictionary(key, value, { maxKeys: 6 }), value),
      prefix: fc.oneof(fc.constant(''), scalar),
      extra: value,
    },
    { requiredKeys: [] },
  );
  const check = (text: string) => {
    try {
      const b = parseObjstoreConfig(text);
      assert.ok(b.type === 'filesystem' || (b.type === 's3' && typeof b.bucket === 'string' && b.bucket !== ''));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      assert.ok(err.message.length > 0);
    }
  };
  fc.assert(fc.property(doc, (d) => check(toYaml(d))), { numRuns: 500 });
  fc.assert(fc.property(fc.string({ maxLength: 60 }), check), { numRuns: 500 });
});

test('flags override the config; bad flags are usage errors naming the flag', () => {
  const cfg = parseConfig('compactor:\n  retention: {raw: 7d, 5m: 30d}\n');
  const a = applyStorageFlags(cfg, { retention: '90d', 'retention.resolution-1h': '0', 'delete-delay': '2h', 'downsampling.disable': true, 'wait-interval': '30s' });
  assert.deepEqual(a.compactor.retention, { raw: 90 * 86_400_000, '5m': 90 * 86_400_000, '1h': 0 }, '--retention for all, the resolution flag wins');
  assert.equal(a.compactor.delete_delay, 2 * 3_600_000);
  assert.equal(a.compactor.downsampling.enabled, false);
  assert.equal(a.compactor.interval, 30_000);
  assert.deepEqual(cfg.compactor.retention, { raw: 7 * 86_400_000, '5m': 30 * 86_400_000, '1h': 0 }, 'the parsed config is not changed');
  const b = applyStorageFlags(cfg, { 'compact.block-ranges': '1m, 4m,16m', 'store.cache-size': '1KiB', 'sync-block-duration': '5s' });
  assert.deepEqual(compactorRanges(b), [60_000, 240_000, 960_000]);
  assert.equal(b.store.cache_bytes, 1024);
  assert.equal(b.store.sync_interval, 5000);
  assert.deepEqual(applyStorageFlags(cfg, {}), cfg, 'no flags: the config as it is');
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ retention: '30 days' }, /--retention: not a valid duration string: "30 days"/],
    [{ 'retention.resolution-5m': '-1d' }, /--retention\.resolution-5m/],
    [{ 'compact.block-ranges': '2h,3h' }, /--compact\.block-ranges: 3h is not a multiple of 2h/],
    [{ 'compact.block-ranges': ',' }, /--compact\.block-ranges needs at least one duration/],
    [{ 'compact.block-ranges': '0s,1h' }, /--compact\.block-ranges: 0s must be positive/],
    [{ 'store.cache-size': 'big' }, /--store\.cache-size must be a byte size/],
    [{ 'sync-block-duration': '0s' }, /--sync-block-duration must be positive/],
    [{ 'wait-interval': '0' }, /--wait-interval must be positive/],
  ];
  for (const [values, re] of bad) assert.throws(() => applyStorageFlags(cfg, values), (err: Error) => err instanceof UsageError && re.test(err.message), JSON.stringify(values));
});

test('which bucket each role uses', async () => {
  const dir = tempDir('argus-storage-cfg-');
  const none = parseConfig('');
  assert.equal(await bucketSettings(none, { 'storage.tsdb.path': dir }, 'receive'), null, 'receive ships only to a configured bucket');
  for (const role of ['all', 'store', 'compact']) {
    assert.deepEqual(await bucketSettings(none, { 'storage.tsdb.path': dir }, role), { type: 'filesystem', directory: join(dir, 'bucket') }, role);
  }
  const s3 = parseConfig('storage:\n  bucket: {type: s3, bucket: cfg-bucket}\n');
  assert.deepEqual(await bucketSettings(s3, { 'storage.tsdb.path': dir }, 'receive'), { type: 's3', bucket: 'cfg-bucket' });
  const file = join(dir, 'objstore.yml');
  writeFileSync(file, 'type: FILESYSTEM\nconfig:\n  directory: /elsewhere\n');
  assert.deepEqual(await bucketSettings(s3, { 'storage.tsdb.path': dir, 'objstore.config-file': file }, 'receive'), { type: 'filesystem', directory: '/elsewhere' }, 'the flag wins');
  await assert.rejects(bucketSettings(s3, { 'objstore.config-file': join(dir, 'missing.yml') }, 'all'), /cannot read objstore config file .*missing\.yml/);
});

test('argus store / compact: bad storage flags and objstore files exit with code 2 and say what was wrong', () => {
  const dir = tempDir('argus-storage-cli-');
  const argus = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cmd/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  const r = argus('compact', '--retention=forever', `--storage.tsdb.path=${dir}`, '--web.listen-address=127.0.0.1:0');
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--retention: not a valid duration string: "forever"/);
  const file = join(dir, 'objstore.yml');
  writeFileSync(file, 'type: S3\nconfig:\n  bucket: b\n  sse_config: {type: SSE-KMS}\n');
  const s = argus('store', `--objstore.config-file=${file}`, `--storage.tsdb.path=${dir}`, '--web.listen-address=127.0.0.1:0');
  assert.equal(s.status, 2, s.stderr);
  assert.match(s.stderr, /objstore\.yml: config: sse_config not supported/);
  const h = argus('--help');
  assert.match(h.stdout, /^\s+store\s/m);
  assert.match(h.stdout, /^\s+compact\s/m);
  assert.match(roleHelp(allRole), /--objstore\.config-file[\s\S]*--retention\.resolution-raw[\s\S]*--store\.cache-size/, 'argus all takes the storage flags');
  assert.match(roleHelp(storeRole), /--objstore\.config-file[\s\S]*--sync-block-duration/);
  assert.match(roleHelp(compactRole), /--objstore\.config-file[\s\S]*--wait-interval/);
});
