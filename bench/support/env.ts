/** Benchmark settings from the environment: unset or empty means the default; anything else out of range is an error naming it. */

/** An integer (`_` allowed as a digit separator: `6_000_000`) in [min, max]. */
export function envInt(name: string, def: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const v = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${name}=${raw}: want an integer in [${min}, ${max}]`);
  return v;
}

/** A finite number in [min, max]. */
export function envFloat(name: string, def: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return def;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) throw new Error(`${name}=${raw}: want a number in [${min}, ${max}]`);
  return v;
}
