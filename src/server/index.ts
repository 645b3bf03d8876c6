export { createApp, type AppDeps } from './app.js';
export { createRegistry, registerTSDBMetrics } from './metrics.js';
