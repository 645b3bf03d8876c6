export { Wal, type WalOptions, type ReplayReport } from './wal.js';
export * from './records.js';
