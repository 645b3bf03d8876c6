/** Object storage: the `Bucket` seam, its backends (memory, filesystem, S3), and a factory from config. */
import type { Bucket } from './bucket.js';
import { FilesystemBucket } from './fs.js';
import { S3Bucket } from './s3.js';

export { type Bucket, type ObjectAttributes, type IterOptions, ObjectNotFoundError, isNotFound, checkKey } from './bucket.js';
export { MemoryBucket, compareBytes } from './memory.js';
export { FilesystemBucket } from './fs.js';
export { S3Bucket, resolveS3Config, type S3BucketOptions, type S3BucketStats } from './s3.js';

/** A local directory as the bucket (`argus all`'s default). */
export interface FilesystemBucketConfig {
  type: 'filesystem';
  directory: string;
}

/** An S3 bucket; field names as in Thanos's objstore S3 config. Unset credentials come from AWS_* variables. */
export interface S3BucketConfig {
  type: 's3';
  bucket: string;
  /** `host:port` (scheme from `insecure`) or a full `http(s)://` URL. */
  endpoint?: string;
  region?: string;
  force_path_style?: boolean;
  access_key?: string;
  secret_key?: string;
  /** Plain http to an endpoint given without a scheme. */
  insecure?: boolean;
}

export type BucketConfig = FilesystemBucketConfig | S3BucketConfig;

/** Opens the bucket a config describes; errors name the field that is wrong. */
export function bucketFromConfig(cfg: BucketConfig): Bucket {
  const c = cfg as unknown as Record<string, unknown> | null;
  if (typeof c !== 'object' || c === null) throw new Error('bucket config: expected an object with a "type"');
  const str = (field: string, required: boolean): string | undefined => {
    const v = c[field];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string' || v === '') throw new Error(`bucket config (type ${String(c.type)}): "${field}" must be a non-empty string`);
    return v;
  };
  const bool = (field: string): boolean | undefined => {
    const v = c[field];
    if (v !== undefined && typeof v !== 'boolean') throw new Error(`bucket config (type ${String(c.type)}): "${field}" must be true or false`);
    return v;
  };
  switch (c.type) {
    case 'filesystem':
      return new FilesystemBucket(str('directory', true)!);
    case 's3':
      return new S3Bucket({
        bucket: str('bucket', true)!,
        endpoint: str('endpoint', false),
        region: str('region', false),
        forcePathStyle: bool('force_path_style'),
        accessKeyId: str('access_key', false),
        secretAccessKey: str('secret_key', false),
        insecure: bool('insecure'),
      });
    default:
      throw new Error(`bucket config: unknown type ${JSON.stringify(c.type)} (want "filesystem" or "s3")`);
  }
}
