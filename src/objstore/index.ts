/** Object storage: the `Bucket` seam and its backends (memory here; filesystem and S3 beside it). */
export { type Bucket, type ObjectAttributes, type IterOptions, ObjectNotFoundError, isNotFound, checkKey } from './bucket.js';
export { MemoryBucket, compareBytes } from './memory.js';
