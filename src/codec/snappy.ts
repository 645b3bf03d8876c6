/**
 * Snappy block format (not the framed/stream format): what remote write and remote read bodies use.
 * The native `snappy` package does the work; we read the preamble ourselves first so a tiny body that
 * claims a huge decompressed size is refused before anything is allocated.
 */
import { compressSync, uncompressSync } from 'snappy';
import { DecodeError } from './protobuf.js';
import { VARINT_TRUNCATED, readUvarint } from './varint.js';

/** The uncompressed length a snappy block declares in its preamble (a uvarint of at most 32 bits). */
export function snappyDecodedLength(body: Uint8Array): number {
  const [n, next] = readUvarint(body, 0, Math.min(body.length, 10));
  if (next === VARINT_TRUNCATED) throw new DecodeError('snappy: truncated length preamble at offset 0', 0);
  if (next < 0 || next > 5 || n > 0xffffffff) throw new DecodeError('snappy: length preamble overflows 32 bits at offset 0', 0);
  return n;
}

/**
 * Decompresses a snappy block, refusing (with DecodeError) a declared size above `maxBytes` and any
 * corrupt input.
 */
export function snappyUncompress(body: Uint8Array, maxBytes: number): Uint8Array {
  const n = snappyDecodedLength(body);
  if (n > maxBytes) throw new DecodeError(`snappy: decompressed size ${n} exceeds limit ${maxBytes}`);
  let out: Uint8Array;
  try {
    out = uncompressSync(body, { asBuffer: true }) as Uint8Array;
  } catch (err) {
    throw new DecodeError(`snappy: corrupt input (${body.length} bytes, declared size ${n}): ${describe(err)}`);
  }
  if (out.length !== n) {
    throw new DecodeError(`snappy: decompressed ${out.length} bytes but the preamble declared ${n}`);
  }
  return out;
}

export function snappyCompress(buf: Uint8Array): Uint8Array {
  return compressSync(buf);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
