/** S3 client settings from options and AWS_* variables, and bucketFromConfig: no server needed. */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FilesystemBucket, S3Bucket, bucketFromConfig, resolveS3Config, type BucketConfig } from '../../src/objstore/index.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const root = mkdtempSync(join(tmpdir(), 'argus-bucket-config-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('resolveS3Config', () => {
  test('endpoints: scheme from insecure, path style on for IPs and localhost', () => {
    const r = (o: Partial<Parameters<typeof resolveS3Config>[0]>) => resolveS3Config({ bucket: 'b', env: {}, ...o });
    assert.equal(r({ endpoint: '127.0.0.1:7480', insecure: true }).endpoint, 'http://127.0.0.1:7480');
    assert.equal(r({ endpoint: 'rgw.example:7480' }).endpoint, 'https://rgw.example:7480');
    assert.equal(r({ endpoint: 'http://rgw.example:7480', insecure: false }).endpoint, 'http://rgw.example:7480', 'a given scheme wins');
    assert.equal(r({ endpoint: '127.0.0.1:7480' }).forcePathStyle, true);
    assert.equal(r({ endpoint: 'http://localhost:9000' }).forcePathStyle, true);
    assert.equal(r({ endpoint: 'http://[::1]:9000' }).forcePathStyle, true);
    assert.equal(r({ endpoint: 'https://s3.example.com' }).forcePathStyle, false);
    assert.equal(r({ endpoint: 'https://s3.example.com', forcePathStyle: true }).forcePathStyle, true);
    assert.equal(r({ endpoint: '127.0.0.1:7480', forcePathStyle: false }).forcePathStyle, false);
    assert.equal(r({}).endpoint, undefined, 'AWS itself');
    assert.equal(r({}).forcePathStyle, false);
    assert.throws(() => r({ endpoint: 'ftp://x' }), /endpoint "ftp:\/\/x" must be http/);
    assert.throws(() => r({ endpoint: 'http://' }), /invalid endpoint/);
  });

  test('options win over AWS_* variables; region defaults to us-east-1; checksums only when required', () => {
    const env = {
      AWS_ENDPOINT_URL: 'http://generic:1',
      AWS_ENDPOINT_URL_S3: 'http://s3only:2',
      AWS_REGION: 'eu-west-3',
      AWS_DEFAULT_REGION: 'eu-central-1',
      AWS_ACCESS_KEY_ID: 'envak',
      AWS_SECRET_ACCESS_KEY: 'envsk',
      AWS_SESSION_TOKEN: 'envtok',
    };
    const fromEnv = resolveS3Config({ bucket: 'b', env });
    assert.equal(fromEnv.endpoint, 'http://s3only:2');
    assert.equal(fromEnv.region, 'eu-west-3');
    assert.deepEqual(fromEnv.credentials, { accessKeyId: 'envak', secretAccessKey: 'envsk', sessionToken: 'envtok' });
    assert.equal(fromEnv.requestChecksumCalculation, 'WHEN_REQUIRED');
    assert.equal(fromEnv.responseChecksumValidation, 'WHEN_REQUIRED');
    assert.equal(resolveS3Config({ bucket: 'b', env: { AWS_ENDPOINT_URL: 'http://generic:1' } }).endpoint, 'http://generic:1');
    assert.equal(resolveS3Config({ bucket: 'b', env: { AWS_DEFAULT_REGION: 'eu-central-1' } }).region, 'eu-central-1');
    assert.equal(resolveS3Config({ bucket: 'b', env: {} }).region, 'us-east-1');
    assert.equal(resolveS3Config({ bucket: 'b', env: {} }).credentials, undefined, "the SDK's default chain");
    const fromOpts = resolveS3Config({ bucket: 'b', env, endpoint: 'http://o:3', region: 'r', accessKeyId: 'ak', secretAccessKey: 'sk' });
    assert.equal(fromOpts.endpoint, 'http://o:3');
    assert.equal(fromOpts.region, 'r');
    assert.deepEqual(fromOpts.credentials, { accessKeyId: 'ak', secretAccessKey: 'sk', sessionToken: undefined });
  });

  test('bad options are errors that name them', () => {
    assert.throws(() => resolveS3Config({ bucket: '', env: {} }), /"bucket"/);
    assert.throws(() => resolveS3Config({ bucket: 'b', env: {}, accessKeyId: 'ak' }), /secret key missing/);
    assert.throws(() => resolveS3Config({ bucket: 'b', env: {}, secretAccessKey: 'sk' }), /access key missing/);
    assert.throws(() => new S3Bucket({ bucket: 'b', env: {}, partSize: 1 << 20 }), /partSize .* 5 MiB/);
    assert.throws(() => new S3Bucket({ bucket: 'b', env: {}, listPageSize: 5000 }), /listPageSize/);
    assert.throws(() => new S3Bucket({ bucket: 'b', env: {}, uploadConcurrency: 0 }), /uploadConcurrency/);
  });
});

describe('bucketFromConfig', () => {
  test('filesystem and s3', async () => {
    const fs = bucketFromConfig({ type: 'filesystem', directory: join(root, 'b') });
    assert.ok(fs instanceof FilesystemBucket);
    assert.equal(fs.name, `filesystem:${join(root, 'b')}`);
    const s3 = bucketFromConfig({ type: 's3', bucket: 'blocks', endpoint: '127.0.0.1:7480', insecure: true, access_key: 'a', secret_key: 's' });
    assert.ok(s3 instanceof S3Bucket);
    assert.equal(s3.name, 's3:blocks');
    await s3.close();
  });

  test('errors name the field', () => {
    const bad = (c: unknown) => () => bucketFromConfig(c as BucketConfig);
    assert.throws(bad({ type: 'gcs' }), /unknown type "gcs"/);
    assert.throws(bad(null), /expected an object/);
    assert.throws(bad({ type: 'filesystem' }), /"directory" must be a non-empty string/);
    assert.throws(bad({ type: 's3' }), /"bucket" must be a non-empty string/);
    assert.throws(bad({ type: 's3', bucket: 'b', insecure: 'yes' }), /"insecure" must be true or false/);
    assert.throws(bad({ type: 's3', bucket: 'b', endpoint: 7480 }), /"endpoint" must be a non-empty string/);
    assert.throws(bad({ type: 's3', bucket: 'b', access_key: 'a' }), /secret key missing/);
  });
});
