/**
 * Block markers in a Thanos-layout bucket: `<ULID>/deletion-mark.json` (the block is to be deleted once
 * the delete delay has passed; readers and the compactor ignore it from the moment it appears) and
 * `<ULID>/no-compact-mark.json` (the compactor leaves the block alone). JSON as Thanos writes it: times are
 * Unix seconds, version 1, compact JSON as Go's json.Marshal writes it.
 */
import type { Bucket } from '../objstore/index.js';
import { isUlid } from '../tsdb/block/index.js';

export const DELETION_MARK_FILENAME = 'deletion-mark.json';
export const NO_COMPACT_MARK_FILENAME = 'no-compact-mark.json';
export const MARKER_VERSION = 1;

export interface DeletionMark {
  id: string;
  /** Unix seconds. */
  deletion_time: number;
  version: number;
  details?: string;
}

export interface NoCompactMark {
  id: string;
  /** Unix seconds. */
  no_compact_time: number;
  version: number;
  reason: string;
  details?: string;
}

export function deletionMarkKey(ulid: string): string {
  return `${ulid}/${DELETION_MARK_FILENAME}`;
}

export function noCompactMarkKey(ulid: string): string {
  return `${ulid}/${NO_COMPACT_MARK_FILENAME}`;
}

export function encodeDeletionMark(m: DeletionMark): Uint8Array {
  const out: Record<string, unknown> = { id: m.id, version: m.version };
  if (m.details) out.details = m.details;
  out.deletion_time = m.deletion_time;
  return new TextEncoder().encode(JSON.stringify(out));
}

export function encodeNoCompactMark(m: NoCompactMark): Uint8Array {
  const out: Record<string, unknown> = { id: m.id, version: m.version };
  if (m.details) out.details = m.details;
  out.no_compact_time = m.no_compact_time;
  out.reason = m.reason;
  return new TextEncoder().encode(JSON.stringify(out));
}

/** Parses the JSON object of a marker; errors name `file` and what was wrong. */
function parseObject(bytes: Uint8Array, file: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new Error(`${file}: not valid UTF-8 JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${file}: not a JSON object`);
  const m = raw as Record<string, unknown>;
  if (m.version !== MARKER_VERSION) throw new Error(`${file}: unsupported version ${JSON.stringify(m.version)} (want ${MARKER_VERSION})`);
  if (typeof m.id !== 'string' || !isUlid(m.id)) throw new Error(`${file}: invalid id ${JSON.stringify(m.id)}`);
  return m;
}

function seconds(v: unknown, file: string, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new Error(`${file}: ${field} must be non-negative integer Unix seconds, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * Decodes a deletion mark. When `expectId` is given the mark must name that block (a mark copied into the
 * wrong folder must not delete the block it sits in).
 */
export function decodeDeletionMark(bytes: Uint8Array, file = DELETION_MARK_FILENAME, expectId?: string): DeletionMark {
  const m = parseObject(bytes, file);
  const id = (m.id as string).toUpperCase();
  if (expectId !== undefined && id !== expectId) throw new Error(`${file}: mark is for block ${id}, not ${expectId}`);
  const out: DeletionMark = { id, deletion_time: seconds(m.deletion_time, file, 'deletion_time'), version: MARKER_VERSION };
  if (typeof m.details === 'string' && m.details !== '') out.details = m.details;
  return out;
}

export function decodeNoCompactMark(bytes: Uint8Array, file = NO_COMPACT_MARK_FILENAME, expectId?: string): NoCompactMark {
  const m = parseObject(bytes, file);
  const id = (m.id as string).toUpperCase();
  if (expectId !== undefined && id !== expectId) throw new Error(`${file}: mark is for block ${id}, not ${expectId}`);
  const reason = typeof m.reason === 'string' ? m.reason : '';
  const out: NoCompactMark = { id, no_compact_time: seconds(m.no_compact_time, file, 'no_compact_time'), version: MARKER_VERSION, reason };
  if (typeof m.details === 'string' && m.details !== '') out.details = m.details;
  return out;
}

/** Writes `<ulid>/deletion-mark.json` unless one is there already (an earlier mark's time is kept). */
export async function markForDeletion(bucket: Bucket, ulid: string, nowMs: number, details: string): Promise<boolean> {
  const key = deletionMarkKey(ulid);
  if (await bucket.exists(key)) return false;
  await bucket.put(key, encodeDeletionMark({ id: ulid, deletion_time: Math.floor(nowMs / 1000), version: MARKER_VERSION, details }));
  return true;
}

/** Writes `<ulid>/no-compact-mark.json` (reason "manual" unless given). */
export async function markNoCompact(bucket: Bucket, ulid: string, nowMs: number, reason = 'manual', details = ''): Promise<void> {
  await bucket.put(
    noCompactMarkKey(ulid),
    encodeNoCompactMark({ id: ulid, no_compact_time: Math.floor(nowMs / 1000), version: MARKER_VERSION, reason, details }),
  );
}
