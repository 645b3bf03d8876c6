/** Small helpers shared by tests that generate data: a seeded PRNG and float64 bit access. */

/** Deterministic PRNG (xorshift32), so failures reproduce. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** The 64 bits of a float as 16 hex digits (compares NaN payloads exactly). */
export function bits(v: number): string {
  f64[0] = v;
  return u32[1]!.toString(16).padStart(8, '0') + u32[0]!.toString(16).padStart(8, '0');
}

export function fromBits(hi: number, lo: number): number {
  u32[1] = hi;
  u32[0] = lo;
  return f64[0]!;
}
