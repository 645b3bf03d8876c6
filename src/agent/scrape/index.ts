/** Scraping: the scrape manager, pools, loops, targets and the HTTP client. */
export { ScrapeManager } from './manager.js';
export type {
  ActiveTargetStatus,
  DroppedTargetStatus,
  ScrapeManagerOptions,
  TargetMetadata,
  TargetsSnapshot,
} from './manager.js';
export { loopSettings, reusableCache, ScrapePool } from './pool.js';
export type { PoolDeps } from './pool.js';
export { ScrapeLoop } from './loop.js';
export type { LoopDeps, LoopSettings } from './loop.js';
export { appendEmpty, appendScrape, appendStaleMarkers } from './append.js';
export type { AppendResult, AppendSettings } from './append.js';
export { ScrapeCache } from './cache.js';
export type { CacheEntry, MetadataEntry, SeriesState } from './cache.js';
export { ScrapeClient, ScrapeError, USER_AGENT } from './client.js';
export type { ScrapeRequest, ScrapeResponse } from './client.js';
export { attachTargetLabels, checkLabelLimits, EXPORTED_LABEL_PREFIX, reportLabels, sampleLabels } from './labels.js';
export type { LabelLimits } from './labels.js';
export { newScrapeMetrics } from './metrics.js';
export type { ScrapeMetrics } from './metrics.js';
export {
  encodeQuery,
  fnv64a,
  formatPromDuration,
  goPathEscape,
  goQueryEscape,
  offsetSeed,
  populateLabels,
  publicLabels,
  scrapeOffset,
  Target,
  targetsFromGroups,
  targetUrl,
} from './target.js';
export type { PopulatedTarget, TargetHealth, TargetsFromGroups } from './target.js';
