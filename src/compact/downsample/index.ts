/**
 * Downsampling as Thanos's compactor does it: raw blocks of 40h or more get a 5m version, 5m blocks of
 * 10d or more a 1h version, made of aggregate chunks (count, sum, min, max, counter) that Thanos reads.
 * `downsampleStep` is the compactor's `downsample` hook; the aggregate chunk format and its readers live
 * in src/tsdb/chunkenc/aggr.ts.
 */
export { downsampleStep, downloadBlock, uploadBlock, NO_DOWNSAMPLE_MARK, type DownsampleContext } from './step.js';
export { downsampleBlock, blockResolution, type DownsampleBlockOptions } from './block.js';
export {
  planDownsampling,
  sourcesOf,
  DEFAULT_RAW_5M_AFTER_MS,
  DEFAULT_5M_1H_AFTER_MS,
  type DownsampleJob,
  type DownsamplePlanOptions,
} from './plan.js';
export {
  RES_RAW,
  RES_5M,
  RES_1H,
  SampleBuffer,
  downsampleRaw,
  downsampleAggr,
  targetChunkCount,
  windowEnd,
  type AggrChunkIn,
  type AggrChunkOut,
} from './aggregate.js';
