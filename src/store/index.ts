/**
 * The store gateway: serves Prometheus-format blocks straight from a bucket with range reads (index header
 * in memory; postings, series and chunks read on demand through one byte-budgeted LRU cache).
 */
export {
  BucketStore,
  DEFAULT_CACHE_BYTES,
  DEFAULT_CHUNK_SIZE_ESTIMATE,
  DEFAULT_FETCH_BUDGET_BYTES,
  DEFAULT_MAX_GAP_BYTES,
  DELETION_MARK_FILENAME,
  type BucketStoreOptions,
  type StoreStats,
  type SyncResult,
} from './bucket-store.js';
export { BucketQuerier, blocksFor, type BucketQuerierOptions, type QuerierSource } from './querier.js';
export { BucketBlock, type ChunkRun, type ChunkWant, type StoreContext } from './bucket-block.js';
export { ByteLru, CacheSpace, type CacheKind, type CacheStats } from './cache.js';
export { IndexHeader, readIndexHeader, parseToc, parseSymbols, parsePostingsTable, type NameEntry, type Toc } from './index-header.js';
export {
  decodePostings,
  decodeSeriesBody,
  seriesEntryBody,
  chunkRecord,
  chunkRecordSize,
  checkChunkRecordAt,
  itemLength,
  chunkCount,
  chunkMinT,
  chunkMaxT,
  chunkRef,
  type SeriesEntry,
} from './decode.js';
export { partitionRanges, fetchRanges, newFetchStats, type ByteRange, type Part, type FetchStats } from './fetch.js';
