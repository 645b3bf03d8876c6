/**
 * The bucket compactor: groups blocks by external labels and resolution, merges overlapping blocks
 * (vertical) and fills aligned ranges (horizontal), applies retention, and deletes marked blocks after a
 * delay, keeping the bucket readable and complete at every step. Downsampling plugs in as a hook.
 */
export {
  Compactor,
  type CompactorOptions,
  type CompactorMetrics,
  type DownsampleHookContext,
  type RunSummary,
} from './compactor.js';
export { compactPlan, type CompactionResult, type CompactOptions } from './group.js';
export {
  DEFAULT_RANGES,
  groupOf,
  planGroup,
  selectOverlapping,
  splitByRange,
  selectForRanges,
  byMinTime,
  type CompactionGroup,
  type Plan,
  type PlanKind,
} from './planner.js';
export { mergeSeries, mergeChunks, mergeSamples, newMergeStats, BlockDataError, MERGED_CHUNK_SAMPLES, type MergeStats, type MergeItem } from './merge.js';
export { BucketBlockReader, DEFAULT_CHUNK_WINDOW } from './source.js';
export { BucketSyncer, deleteBlockObjects, type BlockEntry, type PartialBlock, type SyncResult, type SyncOptions } from './sync.js';
export {
  DELETION_MARK_FILENAME,
  NO_COMPACT_MARK_FILENAME,
  MARKER_VERSION,
  deletionMarkKey,
  noCompactMarkKey,
  encodeDeletionMark,
  decodeDeletionMark,
  encodeNoCompactMark,
  decodeNoCompactMark,
  markForDeletion,
  markNoCompact,
  type DeletionMark,
  type NoCompactMark,
} from './markers.js';
export { RESOLUTION_RAW, RESOLUTION_5M, RESOLUTION_1H, retentionFor, expiredBlocks, type RetentionPolicy } from './retention.js';
