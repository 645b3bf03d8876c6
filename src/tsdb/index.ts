export { TSDB, type TSDBOptions, type LocalQuerierOptions } from './db.js';
export * from './head/index.js';
export { Wal, type ReplayReport } from './wal/index.js';
