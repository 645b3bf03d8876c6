/**
 * Counters of the scrape manager, as plain numbers the server can expose (names in comments are the
 * Prometheus metrics they correspond to; the lead wires them as `argus_agent_*`).
 */
export interface ScrapeMetrics {
  /** Scrapes performed (successful or not). */
  scrapes: number;
  /** Scrapes that ended with up=0. */
  scrapeFailures: number;
  /** Samples appended from scrapes (report series and stale markers excluded). */
  samplesAppended: number;
  /** Stale markers appended (series gone from a scrape, failed scrapes, removed targets). */
  staleMarkers: number;
  /** prometheus_target_scrapes_exceeded_sample_limit_total */
  sampleLimitExceeded: number;
  /** prometheus_target_scrapes_exceeded_body_size_limit_total */
  bodySizeLimitExceeded: number;
  /** prometheus_target_scrape_pool_exceeded_label_limits_total */
  labelLimitExceeded: number;
  /** prometheus_target_scrapes_sample_out_of_order_total */
  outOfOrder: number;
  /** prometheus_target_scrapes_sample_duplicate_timestamp_total */
  duplicates: number;
  /** prometheus_target_scrapes_sample_out_of_bounds_total */
  outOfBounds: number;
  /** prometheus_target_scrapes_cache_flush_forced_total */
  cacheFlushForced: number;
  /** Commits that failed (the scrape's samples are lost). */
  commitFailures: number;
  /** prometheus_target_sync_failed_total: targets whose labels made them unusable. */
  targetSyncFailed: number;
  /** prometheus_target_scrape_pool_exceeded_target_limit_total */
  targetLimitExceeded: number;
  /** prometheus_target_scrape_pool_reloads_total */
  poolReloads: number;
  /** prometheus_target_scrape_pool_sync_total */
  poolSyncs: number;
  /** prometheus_sd_file_read_errors_total */
  fileSdReadErrors: number;
}

export function newScrapeMetrics(): ScrapeMetrics {
  return {
    scrapes: 0,
    scrapeFailures: 0,
    samplesAppended: 0,
    staleMarkers: 0,
    sampleLimitExceeded: 0,
    bodySizeLimitExceeded: 0,
    labelLimitExceeded: 0,
    outOfOrder: 0,
    duplicates: 0,
    outOfBounds: 0,
    cacheFlushForced: 0,
    commitFailures: 0,
    targetSyncFailed: 0,
    targetLimitExceeded: 0,
    poolReloads: 0,
    poolSyncs: 0,
    fileSdReadErrors: 0,
  };
}
