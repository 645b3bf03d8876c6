/** Query-side storage wrappers: the per-tenant fan-out over head, local blocks and the store gateway, and replica deduplication at query time. */
export { DedupQuerier, DedupQueryable, dedupQuerier, dedupQueryable, withoutReplicaLabels } from './dedup.js';
export { DedupIterator, isCounterFunction, FALLBACK_INTERVAL_MS, LATE_FACTOR, MIN_SWITCH_FACTOR } from './dedup-iterator.js';
export { FanoutStorage, type FanoutOptions, type LocalSource, type StoreSource, type TenantStorage } from './fanout.js';
