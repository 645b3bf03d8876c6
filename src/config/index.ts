export * from './prometheus.js';
export * from './schema.js';
export * from './load.js';
