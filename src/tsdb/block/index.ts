/**
 * Prometheus TSDB blocks (byte-compatible with Prometheus 2.x): `writeBlock` turns series and their XOR
 * chunks into a block directory, `openBlock` reads one (ours or Prometheus's) and answers through the
 * same `Querier` seam as the head.
 */
export {
  writeBlock,
  writeBlockStream,
  BlockDirWriter,
  TMP_SUFFIX,
  type WriteBlockOptions,
  type BlockSeriesInput,
  type BlockChunkInput,
} from './writer.js';
export { openBlock, Block, type SelectedSeries } from './block.js';
export {
  META_FILENAME,
  META_VERSION,
  encodeMeta,
  decodeMeta,
  parseJsonObject,
  type BlockMeta,
  type BlockStats,
  type BlockCompaction,
  type BlockDesc,
  type ThanosMeta,
} from './meta.js';
export { IndexReader, type IndexSeriesEntry } from './index-reader.js';
export { writeIndex, type ChunkMeta, type IndexSeries, type Toc } from './index-writer.js';
export {
  ChunkReader,
  ChunkSegmentWriter,
  DEFAULT_SEGMENT_SIZE,
  SEGMENT_HEADER_SIZE,
  checkSegmentHeader,
  decodeChunkRecord,
  chunkRef,
  unpackChunkRef,
  segmentFileName,
  type ChunkData,
} from './chunks.js';
export { TOMBSTONES_FILENAME, encodeTombstones, decodeTombstones, type Tombstones } from './tombstones.js';
export { BlockFormatError, compareUtf8, compareLabelsUtf8 } from './encoding.js';
export { newUlid, parseUlid, isUlid, ulidTime, encodeUlid } from './ulid.js';
