export { Wal, type WalOptions, type ReplayReport, type WalPosition } from './wal.js';
export * from './records.js';
