export { Receiver, negotiate, type WriteInput, type WriteResult, RW_V1_PROTO, RW_V2_PROTO } from './receiver.js';
export { createReceiveMetrics, type ReceiveMetrics } from './metrics.js';
export { validateTenant, tenantOf, DEFAULT_TENANT } from './tenant.js';
export * from './ha/index.js';
