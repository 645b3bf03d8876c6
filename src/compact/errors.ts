/** Errors of the compactor that change what it does next. */

/**
 * Bad data in a source block (malformed index or chunk, out-of-order samples), as opposed to a bucket or
 * local failure: retrying cannot help, so the compactor marks the block no-compact and moves on.
 */
export class BlockDataError extends Error {
  constructor(
    readonly ulid: string,
    message: string,
  ) {
    super(`block ${ulid}: ${message}`);
    this.name = 'BlockDataError';
  }
}
