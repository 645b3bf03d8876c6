/** Query-side storage wrappers: replica deduplication at query time (fan-out and partial responses follow). */
export { DedupQuerier, DedupQueryable, dedupQuerier, dedupQueryable, withoutReplicaLabels } from './dedup.js';
export { DedupIterator, isCounterFunction, FALLBACK_INTERVAL_MS, LATE_FACTOR, MIN_SWITCH_FACTOR } from './dedup-iterator.js';
