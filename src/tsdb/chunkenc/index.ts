/** XOR chunk encoding, byte-compatible with Prometheus's `tsdb/chunkenc`. */
export { ENCODING_XOR, MAX_SAMPLES_PER_CHUNK, XorAppender, XorChunk, XorIterator } from './xor.js';
