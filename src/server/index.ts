export { createApp, createOpsApp, type AppDeps } from './app.js';
export { createRegistry, registerTSDBMetrics, registerShipperMetrics, registerCompactorMetrics, registerStoreMetrics, registerLocalRetentionMetrics } from './metrics.js';
