export type { KV } from './kv.js';
export { createMemoryKV } from './kv-memory.js';
export { HATracker, type ReplicaDesc, type TrackerConfig, type Decision, type ClusterStatus } from './tracker.js';
export { StandbyBuffer, SeriesRing } from './standby.js';
