/**
 * Sample values. Prometheus marks a series stale with one particular NaN (bits 0x7ff0000000000002);
 * it must survive storage bit for bit, so values are kept in Float64Arrays (which never canonicalise NaN)
 * and staleness is tested on the bits.
 */
export const STALE_NAN_HI = 0x7ff00000;
export const STALE_NAN_LO = 0x00000002;

const scratchF = new Float64Array(1);
const scratchU = new Uint32Array(scratchF.buffer);

export const STALE_NAN: number = (() => {
  scratchU[0] = STALE_NAN_LO;
  scratchU[1] = STALE_NAN_HI;
  return scratchF[0]!;
})();

export function isStaleNaN(v: number): boolean {
  if (v === v) return false;
  scratchF[0] = v;
  return scratchU[0] === STALE_NAN_LO && scratchU[1] === STALE_NAN_HI;
}

/** Bits of a float64 as [lo, hi] uint32 words (little-endian machine order). */
export function floatBits(v: number): [number, number] {
  scratchF[0] = v;
  return [scratchU[0]!, scratchU[1]!];
}

const pairF = new Float64Array(2);
const pairU = new Uint32Array(pairF.buffer);

/** Whether two values have the same 64 bits: NaN payloads (the stale marker) and -0 count. */
export function sameBits(a: number, b: number): boolean {
  pairF[0] = a;
  pairF[1] = b;
  return pairU[0] === pairU[2] && pairU[1] === pairU[3];
}
