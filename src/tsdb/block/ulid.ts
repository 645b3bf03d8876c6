/**
 * ULIDs name blocks (Prometheus and Thanos use github.com/oklog/ulid): 128 bits, a 48-bit millisecond
 * timestamp followed by 80 random bits, written as 26 characters of Crockford base32. Sorting the strings
 * sorts blocks by creation time.
 */
import { randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const DECODE: Int8Array = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < ALPHABET.length; i++) {
    t[ALPHABET.charCodeAt(i)] = i;
    t[ALPHABET.toLowerCase().charCodeAt(i)] = i;
  }
  return t;
})();

export const ULID_LENGTH = 26;
const MAX_TIME = 2 ** 48 - 1;

let lastTime = -1;
const lastRandom = new Uint8Array(10);

/**
 * A new ULID for time `ms` (default now). Within one millisecond the random part is incremented rather
 * than redrawn, so ULIDs made by this process in a row sort in creation order.
 */
export function newUlid(ms: number = Date.now()): string {
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_TIME) throw new RangeError(`ulid: time ${ms} is out of range`);
  if (ms === lastTime && increment(lastRandom)) {
    // incremented in place
  } else {
    randomFillSync(lastRandom);
    lastTime = ms;
  }
  return encodeUlid(ms, lastRandom);
}

/** Adds one to a big-endian byte string; false when it wrapped around. */
function increment(b: Uint8Array): boolean {
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] !== 0xff) {
      b[i]!++;
      return true;
    }
    b[i] = 0;
  }
  return false;
}

/** Encodes a time and 10 random bytes. */
export function encodeUlid(ms: number, random: Uint8Array): string {
  if (random.length !== 10) throw new RangeError('ulid: the random part is 10 bytes');
  let n = BigInt(ms);
  for (const b of random) n = (n << 8n) | BigInt(b);
  const out: string[] = new Array(ULID_LENGTH);
  for (let i = ULID_LENGTH - 1; i >= 0; i--) {
    out[i] = ALPHABET[Number(n & 31n)]!;
    n >>= 5n;
  }
  return out.join('');
}

/** Parses a ULID (either case); throws a descriptive error on anything else. */
export function parseUlid(s: string): { time: number; random: Uint8Array } {
  if (typeof s !== 'string' || s.length !== ULID_LENGTH) {
    throw new Error(`invalid ULID ${JSON.stringify(s)}: want ${ULID_LENGTH} characters`);
  }
  let n = 0n;
  for (let i = 0; i < ULID_LENGTH; i++) {
    const c = s.charCodeAt(i);
    const d = c < 128 ? DECODE[c]! : -1;
    if (d < 0) throw new Error(`invalid ULID ${JSON.stringify(s)}: bad character at ${i}`);
    n = (n << 5n) | BigInt(d);
  }
  // 26 characters carry 130 bits; the two highest must be zero.
  if (n >> 128n !== 0n) throw new Error(`invalid ULID ${JSON.stringify(s)}: overflows 128 bits`);
  const random = new Uint8Array(10);
  for (let i = 9; i >= 0; i--) {
    random[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return { time: Number(n), random };
}

export function isUlid(s: string): boolean {
  try {
    parseUlid(s);
    return true;
  } catch {
    return false;
  }
}

/** The millisecond timestamp in a ULID. */
export function ulidTime(s: string): number {
  return parseUlid(s).time;
}
