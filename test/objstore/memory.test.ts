/** The in-memory bucket passes the bucket acceptance suite. */
import { MemoryBucket } from '../../src/objstore/index.js';
import { bucketAcceptance } from './acceptance.js';

const bucket = new MemoryBucket();
bucketAcceptance('memory', { bucket: () => bucket });
