/** XOR chunk encoding, byte-compatible with Prometheus's `tsdb/chunkenc`. */
export { ENCODING_XOR, MAX_SAMPLES_PER_CHUNK, XorAppender, XorChunk, XorIterator } from './xor.js';
export { XorSequenceIterator } from './sequence.js';
/** Thanos's aggregate chunks (downsampled blocks) and the iterators that read them. */
export {
  ENCODING_AGGR,
  AGGR_ENTRIES,
  AGGR_NAMES,
  AggrType,
  AggrChunkError,
  AverageIterator,
  BoundedIterator,
  ChainIterator,
  CounterResetsIterator,
  aggrForFunc,
  aggrIterator,
  aggrNumSamples,
  aggrPart,
  decodeAggrChunk,
  downsampledIterator,
  encodeAggrChunk,
  type AggrPart,
  type AggrPick,
  type CheckedIterator,
  type EncodedChunk,
} from './aggr.js';
