/** Errors raised by appenders and queriers; `kind` decides the HTTP status callers map them to. */

export type StorageErrorKind =
  | 'out_of_order' // older than the newest sample of the series and outside the out-of-order window
  | 'too_old' // older than what the storage can accept at all
  | 'too_far_in_future'
  | 'duplicate_timestamp' // same timestamp, different value
  | 'series_limit'
  | 'invalid';

export class StorageError extends Error {
  readonly kind: StorageErrorKind;
  constructor(kind: StorageErrorKind, message: string) {
    super(message);
    this.kind = kind;
    this.name = 'StorageError';
  }
}
