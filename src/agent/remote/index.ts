/** Remote write from the agent's WAL: one queue per endpoint, and the manager that applies the config. */
export { RemoteWriteManager, DEFAULT_MAX_WAL_BYTES, maxWalBytesFor, type RemoteWriteManagerOptions } from './manager.js';
export { QueueManager, desiredShards, defaultQueueName, withExternalLabels, type QueueMetrics, type QueueOptions } from './queue-manager.js';
export { RemoteWriteClient, parseRetryAfter, unsupportedSettings, type SendResult, type SendOutcome } from './client.js';
export { AckTracker, PositionFile, parsePosition, fileNameFor } from './progress.js';
