/**
 * A bucket on S3 or an S3-compatible store (Ceph RGW, MinIO, …) through `@aws-sdk/client-s3`.
 *
 * - Checksums only "when required": the SDK's default streams aws-chunked bodies with trailing CRCs,
 *   which several S3-compatible stores (Ceph 16's RGW among them) reject with 411.
 * - Ranged GETs; a range starting past the end answers 416 there and an empty array here (bucket.ts).
 * - `putFile` above `multipartThreshold` uploads `partSize` parts, a few at a time, each read from the file
 *   into one buffer (memory stays at concurrency × partSize whatever the file size, and the SDK can retry a
 *   part because its body is a buffer, not a consumed stream).
 * - Transient errors (5xx, throttling, timeouts, resets) are retried by the SDK's standard retry strategy.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { isIP } from 'node:net';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { checkKey, ObjectNotFoundError, type Bucket, type IterOptions, type ObjectAttributes } from './bucket.js';
import { checkRange } from './fs.js';
import { compareBytes } from './memory.js';

const MiB = 1 << 20;
/** S3's limits: parts of at least 5 MiB (except the last), at most 5 GiB, at most 10,000 of them. */
const MIN_PART = 5 * MiB;
const MAX_PART = 5 * 1024 * MiB;
const MAX_PARTS = 10_000;

export interface S3BucketOptions {
  bucket: string;
  /** `https://host:port`, or `host:port` (then `insecure` picks http). Default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS. */
  endpoint?: string;
  /** Default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1. */
  region?: string;
  /** Path-style URLs (`endpoint/bucket/key`). Default: on for IP-address and localhost endpoints, else off. */
  forcePathStyle?: boolean;
  /** Static credentials; default AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the SDK's chain. */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Plain http for an endpoint given without a scheme. */
  insecure?: boolean;
  /** Files larger than this go up as multipart uploads (default 64 MiB). */
  multipartThreshold?: number;
  /** Multipart part size (default 16 MiB, at least 5 MiB). */
  partSize?: number;
  /** Parts in flight per multipart upload (default 4). */
  uploadConcurrency?: number;
  /** Attempts per request, including the first (default 5). */
  maxAttempts?: number;
  /** Keys per ListObjectsV2 page (default and S3's maximum: 1000). */
  listPageSize?: number;
  /** Environment to read AWS_* defaults from (default process.env). */
  env?: Record<string, string | undefined>;
}

/** What a bucket did, for tests and metrics. */
export interface S3BucketStats {
  multipartUploads: number;
  partsUploaded: number;
}

/** Client settings derived from options and environment; exported so the resolution can be tested alone. */
export function resolveS3Config(opts: S3BucketOptions): S3ClientConfig {
  const env = opts.env ?? process.env;
  if (typeof opts.bucket !== 'string' || opts.bucket === '') throw new Error('s3 bucket: option "bucket" (the bucket name) is required');
  const config: S3ClientConfig = {
    region: nonEmpty(opts.region) ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? 'us-east-1',
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: opts.maxAttempts ?? 5,
    retryMode: 'standard',
    requestHandler: {
      connectionTimeout: 10_000,
      // Idle socket, not whole request: big objects may take long, a silent peer must not hang us forever.
      socketTimeout: 60_000,
      httpAgent: { keepAlive: true, maxSockets: 64 },
      httpsAgent: { keepAlive: true, maxSockets: 64 },
    },
  };
  const endpoint = nonEmpty(opts.endpoint) ?? nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? nonEmpty(env.AWS_ENDPOINT_URL);
  if (endpoint !== undefined) {
    const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `${opts.insecure ? 'http' : 'https'}://${endpoint}`;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`s3 bucket ${opts.bucket}: invalid endpoint ${JSON.stringify(endpoint)}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new Error(`s3 bucket ${opts.bucket}: endpoint ${JSON.stringify(endpoint)} must be http:// or https://`);
    }
    config.endpoint = url;
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    // Virtual-hosted URLs (bucket.host) cannot work on an IP address or localhost.
    config.forcePathStyle = opts.forcePathStyle ?? (isIP(host) !== 0 || host === 'localhost');
  } else {
    config.forcePathStyle = opts.forcePathStyle ?? false;
  }
  const ak = nonEmpty(opts.accessKeyId);
  const sk = nonEmpty(opts.secretAccessKey);
  if ((ak === undefined) !== (sk === undefined)) {
    throw new Error(`s3 bucket ${opts.bucket}: ${ak === undefined ? 'access key' : 'secret key'} missing (give both or neither)`);
  }
  if (ak !== undefined && sk !== undefined) {
    config.credentials = { accessKeyId: ak, secretAccessKey: sk, sessionToken: nonEmpty(opts.sessionToken) };
  } else {
    const eak = nonEmpty(env.AWS_ACCESS_KEY_ID);
    const esk = nonEmpty(env.AWS_SECRET_ACCESS_KEY);
    if (eak !== undefined && esk !== undefined) {
      config.credentials = { accessKeyId: eak, secretAccessKey: esk, sessionToken: nonEmpty(env.AWS_SESSION_TOKEN) };
    }
    // Otherwise the SDK's default chain (shared config files, container and instance roles) applies.
  }
  return config;
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}

interface SdkError {
  name?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

function status(err: unknown): number | undefined {
  return (err as SdkError | null)?.$metadata?.httpStatusCode;
}

function isAbort(err: unknown): boolean {
  const n = (err as SdkError | null)?.name;
  return n === 'AbortError';
}

export class S3Bucket implements Bucket {
  readonly name: string;
  readonly bucket: string;
  readonly stats: S3BucketStats = { multipartUploads: 0, partsUploaded: 0 };
  private readonly client: S3Client;
  private readonly multipartThreshold: number;
  private readonly partSize: number;
  private readonly concurrency: number;
  private readonly pageSize: number;

  constructor(opts: S3BucketOptions) {
    const config = resolveS3Config(opts);
    this.bucket = opts.bucket;
    this.name = `s3:${opts.bucket}`;
    this.partSize = opts.partSize ?? 16 * MiB;
    if (!Number.isSafeInteger(this.partSize) || this.partSize < MIN_PART || this.partSize > MAX_PART) {
      throw new Error(`${this.name}: partSize ${opts.partSize} must be between 5 MiB and 5 GiB (S3's part limits)`);
    }
    this.multipartThreshold = opts.multipartThreshold ?? 64 * MiB;
    if (!Number.isSafeInteger(this.multipartThreshold) || this.multipartThreshold < 0) {
      throw new Error(`${this.name}: multipartThreshold ${opts.multipartThreshold} must be a non-negative integer`);
    }
    this.concurrency = opts.uploadConcurrency ?? 4;
    if (!Number.isSafeInteger(this.concurrency) || this.concurrency < 1) {
      throw new Error(`${this.name}: uploadConcurrency ${opts.uploadConcurrency} must be a positive integer`);
    }
    this.pageSize = opts.listPageSize ?? 1000;
    if (!Number.isSafeInteger(this.pageSize) || this.pageSize < 1 || this.pageSize > 1000) {
      throw new Error(`${this.name}: listPageSize ${opts.listPageSize} must be between 1 and 1000`);
    }
    this.client = new S3Client(config);
  }

  /** Maps SDK errors: 404 on an object → ObjectNotFoundError; anything else names the operation and key. */
  private fail(op: string, key: string, err: unknown): Error {
    if (isAbort(err)) return err as Error;
    const e = (err ?? {}) as SdkError;
    const code = e.Code ?? e.name;
    const objectMissing = code === 'NoSuchKey' || code === 'NotFound' || (status(err) === 404 && code !== 'NoSuchBucket' && code !== 'NoSuchUpload');
    if (objectMissing) return new ObjectNotFoundError(this.name, key);
    const http = status(err) !== undefined ? ` (HTTP ${status(err)}` + (e.$metadata?.attempts ? `, ${e.$metadata.attempts} attempts)` : ')') : '';
    const hint = code === 'NoSuchBucket' ? ': the bucket does not exist' : '';
    return new Error(`${this.name}: ${op} ${JSON.stringify(key)} failed${hint}: ${code ?? 'error'}: ${e.message ?? String(err)}${http}`, { cause: err });
  }

  async get(key: string, signal?: AbortSignal): Promise<Uint8Array> {
    checkKey(key);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: signal });
      return await this.readBody('get', key, res.Body, res.ContentLength);
    } catch (err) {
      throw this.fail('get', key, err);
    }
  }

  async getRange(key: string, offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    checkKey(key);
    checkRange(this.name, key, offset, length);
    if (length === 0) {
      // An empty range cannot be asked of S3 (bytes=a-(a-1) is invalid); only existence matters.
      await this.attributes(key);
      return new Uint8Array(0);
    }
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${offset}-${offset + length - 1}` }),
        { abortSignal: signal },
      );
      const body = await this.readBody('getRange', key, res.Body, res.ContentLength);
      // A store that ignores Range answers 200 with the whole object: cut the range out ourselves.
      return res.ContentRange === undefined ? body.slice(offset, offset + length) : body;
    } catch (err) {
      // 416: the range starts at or past the end (also for an empty object). The object exists (else 404).
      if (status(err) === 416 || (err as SdkError).name === 'InvalidRange') return new Uint8Array(0);
      throw this.fail('getRange', key, err);
    }
  }

  private async readBody(op: string, key: string, body: unknown, contentLength: number | undefined): Promise<Uint8Array> {
    if (body === undefined || body === null) return new Uint8Array(0);
    const bytes = await (body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
    // A connection cut mid-body must not pass for a short object.
    if (contentLength !== undefined && bytes.length !== contentLength) {
      throw new Error(`${this.name}: ${op} ${JSON.stringify(key)}: got ${bytes.length} bytes, Content-Length said ${contentLength}`);
    }
    return bytes;
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.attributes(key);
      return true;
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return false;
      throw err;
    }
  }

  async attributes(key: string): Promise<ObjectAttributes> {
    checkKey(key);
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: res.ContentLength ?? 0, lastModified: res.LastModified?.getTime() ?? 0 };
    } catch (err) {
      throw this.fail('attributes', key, err);
    }
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    checkKey(key);
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: body.length }));
    } catch (err) {
      throw this.fail('put', key, err);
    }
  }

  async putFile(key: string, path: string): Promise<void> {
    checkKey(key);
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      throw new Error(`${this.name}: putFile ${JSON.stringify(key)}: cannot read source file ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const size = (await fh.stat()).size;
      if (size <= this.multipartThreshold) {
        await this.put(key, await readExactly(fh, 0, size, path));
        return;
      }
      await this.putMultipart(key, fh, size, path);
    } finally {
      await fh.close();
    }
  }

  private async putMultipart(key: string, fh: FileHandle, size: number, path: string): Promise<void> {
    // Grow parts for very large files so that they fit in S3's 10,000 parts.
    const partSize = Math.max(this.partSize, Math.ceil(size / MAX_PARTS));
    const nParts = Math.ceil(size / partSize);
    let uploadId: string | undefined;
    try {
      const created = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }));
      uploadId = created.UploadId;
      if (uploadId === undefined) throw new Error('CreateMultipartUpload returned no UploadId');
    } catch (err) {
      throw this.fail('putFile (create multipart upload)', key, err);
    }
    this.stats.multipartUploads++;
    const parts: CompletedPart[] = new Array(nParts);
    let next = 0;
    let failed: unknown = null;
    const worker = async (): Promise<void> => {
      while (failed === null && next < nParts) {
        const i = next++;
        const start = i * partSize;
        const len = Math.min(partSize, size - start);
        try {
          const body = await readExactly(fh, start, len, path);
          const res = await this.client.send(
            new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: i + 1, Body: body, ContentLength: len }),
          );
          parts[i] = { PartNumber: i + 1, ETag: res.ETag };
          this.stats.partsUploaded++;
        } catch (err) {
          failed ??= this.fail(`putFile (part ${i + 1}/${nParts})`, key, err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, nParts) }, worker));
    try {
      if (failed !== null) throw failed;
      await this.client.send(
        new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
      );
    } catch (err) {
      // Parts of an abandoned upload cost storage until aborted; best effort, the upload failed anyway.
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
      throw err === failed ? err : this.fail('putFile (complete multipart upload)', key, err);
    }
    // Some stores answer CompleteMultipartUpload without an ETag; the size proves the object is whole.
    const got = await this.attributes(key);
    if (got.size !== size) {
      throw new Error(`${this.name}: putFile ${JSON.stringify(key)}: multipart upload of ${path} completed with ${got.size} bytes, want ${size}`);
    }
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      const e = this.fail('delete', key, err);
      if (e instanceof ObjectNotFoundError) return; // S3 answers 204 for missing keys; some stores 404
      throw e;
    }
  }

  async *iter(prefix: string, opts: IterOptions = {}): AsyncIterable<string> {
    let token: string | undefined;
    for (let page = 1; ; page++) {
      let res;
      try {
        res = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix === '' ? undefined : prefix,
            Delimiter: opts.recursive ? undefined : '/',
            ContinuationToken: token,
            MaxKeys: this.pageSize,
          }),
        );
      } catch (err) {
        throw this.fail(`iter (page ${page})`, prefix, err);
      }
      // One page covers a contiguous key range; objects and common prefixes interleave within it.
      const items: string[] = [];
      for (const o of res.Contents ?? []) if (o.Key !== undefined) items.push(o.Key);
      for (const p of res.CommonPrefixes ?? []) if (p.Prefix !== undefined) items.push(p.Prefix);
      items.sort(compareBytes);
      yield* items;
      if (!res.IsTruncated) return;
      if (res.NextContinuationToken === undefined || res.NextContinuationToken === token) {
        throw new Error(`${this.name}: iter ${JSON.stringify(prefix)}: listing page ${page} is truncated but has no new continuation token`);
      }
      token = res.NextContinuationToken;
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

/** Reads `len` bytes at `pos`; a file that shrank under us is an error, not a short object. */
async function readExactly(fh: FileHandle, pos: number, len: number, path: string): Promise<Uint8Array> {
  const buf = new Uint8Array(len);
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(buf, got, len - got, pos + got);
    if (bytesRead === 0) throw new Error(`${path}: file ended at ${pos + got} bytes while reading [${pos}, ${pos + len}); was it truncated during the upload?`);
    got += bytesRead;
  }
  return buf;
}
