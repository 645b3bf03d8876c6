/** The agent's WAL-only storage (an `Appendable`) and the segment reader the remote-write queues tail it with. */
export { AgentStorage, type AgentStorageOptions, type TruncateResult } from './agent-storage.js';
export { SegmentCursor, WalCorruptionError, parseRecordAt, comparePositions, listSegments, segmentName, type WalPosition } from './segments.js';
