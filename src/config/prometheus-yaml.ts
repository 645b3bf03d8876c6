/**
 * YAML reading and scalar types for the Prometheus configuration file, with the quirks of the Go
 * YAML library (yaml.v2) that Prometheus uses: a scalar read into a text field keeps its source
 * text (`password: 0123` is "0123", `replica: 1` is "1"), booleans accept YAML 1.1 spellings
 * (`yes`, `on`), and an explicit `null` (or an empty value) means the Go zero value.
 *
 * `yamlToPlain` therefore turns every non-null scalar into its source string; the zod helpers below
 * give strings their types.
 */
import { parseDocument, visit } from 'yaml';
import { z } from 'zod';
import { parseDuration } from '../model/duration.js';

/** Parses YAML into objects, arrays, strings and null; throws an Error with the YAML position. */
export function yamlToPlain(text: string): unknown {
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: true, prettyErrors: true });
  const err = doc.errors[0];
  if (err) throw new Error(err.message.split('\n')[0]!.replace(/:$/, ''));
  visit(doc, {
    Scalar(_key, node) {
      if (node.value !== null && node.value !== undefined && typeof node.value !== 'symbol') {
        node.value = node.source ?? String(node.value);
      }
    },
  });
  return doc.toJS({ maxAliasCount: 1000 }) ?? null;
}

// ---------------------------------------------------------------------------------------------------
// Scalars

const toText = (v: unknown): unknown =>
  v === null ? '' : typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : v;

/** A text field; null is "". */
export const text = z.preprocess(toText, z.string());

const TRUE = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']);
const FALSE = new Set(['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']);

/** A boolean with YAML 1.1 spellings; null is false. */
export const bool = z.preprocess(
  (v) => (v === null ? 'false' : toText(v)),
  z.string().transform((v, ctx) => {
    if (TRUE.has(v)) return true;
    if (FALSE.has(v)) return false;
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a boolean` });
    return z.NEVER;
  }),
);

/** Integers as Go's YAML reads them: decimal, 0x, 0o, 0b, with optional `_` separators. */
function parseInteger(v: string): number | undefined {
  const s = v.replace(/_/g, '');
  const m = /^([+-]?)(0x[0-9a-fA-F]+|0o[0-7]+|0b[01]+|\d+)$/.exec(s);
  if (!m) return undefined;
  const body = m[2]!;
  const n = /^0[oO]/.test(body) ? parseInt(body.slice(2), 8) : Number(body);
  const signed = m[1] === '-' ? -n : n;
  return Number.isSafeInteger(signed) ? signed : undefined;
}

function integer(min: number) {
  return z.preprocess(
    (v) => (v === null ? '0' : toText(v)),
    z.string().transform((v, ctx) => {
      const n = parseInteger(v);
      if (n === undefined || n < min) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not ${min >= 0 ? 'a non-negative' : 'an'} integer` });
        return z.NEVER;
      }
      return n;
    }),
  );
}

/** Go `uint` fields; null is 0. */
export const uint = integer(0);
/** Go `int` fields; null is 0. */
export const int = integer(-Number.MAX_SAFE_INTEGER);

/** Go float64 fields; null is 0. */
export const float = z.preprocess(
  (v) => (v === null ? '0' : toText(v)),
  z.string().transform((v, ctx) => {
    const n = Number(v.replace(/_/g, ''));
    if (v.trim() === '' || !Number.isFinite(n)) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a number` });
      return z.NEVER;
    }
    return n;
  }),
);

/** A Prometheus duration (`15s`, `1h30m`, `0`) in milliseconds; null is 0. Plain numbers are errors, as in Prometheus. */
export const duration = z.preprocess(
  (v) => (v === null ? '0' : toText(v)),
  z.string().transform((v, ctx) => {
    try {
      return parseDuration(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: v === '' ? 'empty duration string' : (err as Error).message });
      return z.NEVER;
    }
  }),
);

/** Base-2 units accepted by Prometheus (alecthomas/units): KB and KiB are both 1024. */
const BYTE_UNITS: Record<string, number> = { B: 1 };
['K', 'M', 'G', 'T', 'P', 'E'].forEach((p, i) => {
  BYTE_UNITS[`${p}B`] = 1024 ** (i + 1);
  BYTE_UNITS[`${p}iB`] = 1024 ** (i + 1);
});

/** Parses `10MB`, `1GiB`, `1.5KB`, `1MB512KB` or `0` into bytes; undefined when malformed. */
export function parseBytes(v: string): number | undefined {
  if (v === '0' || v === '+0') return 0;
  if (/^\d+$/.test(v)) return Number(v); // a YAML integer, stored directly by Go
  let total = 0;
  let s = v.startsWith('+') ? v.slice(1) : v;
  if (s === '') return undefined;
  while (s !== '') {
    const m = /^(\d*(?:\.\d*)?)([^\d.]+)/.exec(s);
    if (!m || m[1] === '' || m[1] === '.') return undefined;
    const unit = BYTE_UNITS[m[2]!];
    if (unit === undefined) return undefined;
    total += Number(m[1]) * unit;
    s = s.slice(m[0].length);
  }
  return Number.isSafeInteger(Math.floor(total)) ? Math.floor(total) : undefined;
}

/** A byte size (`body_size_limit`); null is 0. */
export const bytes = z.preprocess(
  (v) => (v === null ? '0' : toText(v)),
  z.string().transform((v, ctx) => {
    const n = parseBytes(v);
    if (n === undefined) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not a byte size (use e.g. 10MB, 512KiB or 0)` });
      return z.NEVER;
    }
    return n;
  }),
);

// ---------------------------------------------------------------------------------------------------
// Collections

const nullTo = (zero: unknown) => (v: unknown) => (v === null ? zero : v);

/** A list; null is empty. */
export function list<T extends z.ZodType>(item: T) {
  return z.preprocess(nullTo([]), z.array(item));
}

/** A string-keyed map; null is empty. */
export function map<T extends z.ZodType>(value: T) {
  return z.preprocess(nullTo({}), z.record(z.string(), value));
}

/** An optional section (a Go pointer): null means absent. */
export function optional<T extends z.ZodType>(schema: T) {
  return z.preprocess(nullTo(undefined), schema.optional());
}

/** A section with defaults: absent or null gives the defaults. */
export function section<T extends z.ZodType>(schema: T) {
  return z.preprocess(nullTo(undefined), schema.prefault({} as never));
}

/** A section accepted but not interpreted by Argus. */
export const loose = optional(z.record(z.string(), z.unknown()));

// ---------------------------------------------------------------------------------------------------
// Key paths

export type KeyPath = readonly PropertyKey[];

/** `scrape_configs[1].static_configs[0].targets[0]`; map keys that are not identifiers are quoted. */
export function formatPath(path: KeyPath): string {
  let out = '';
  for (const k of path) {
    if (typeof k === 'number') out += `[${k}]`;
    else {
      const s = String(k);
      out += /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? (out === '' ? s : `.${s}`) : `[${JSON.stringify(s)}]`;
    }
  }
  return out;
}

export interface PathIssue {
  readonly path: KeyPath;
  readonly message: string;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** "did you mean …" for a misspelt key, from the keys the section accepts. */
export function suggestKey(key: string, known: readonly string[]): string {
  let best = '';
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  return best !== '' && bestD <= Math.max(2, Math.floor(key.length / 4)) ? ` (did you mean ${best}?)` : '';
}

/** A strict section: unknown keys are errors that suggest the closest known key. */
export function obj<S extends z.ZodRawShape>(shape: S) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === 'invalid_type') {
        const got = iss.input === null ? 'null' : Array.isArray(iss.input) ? 'a list' : typeof iss.input === 'string' ? 'text' : typeof iss.input;
        return got === 'null' ? 'empty or null section' : `expected a mapping of keys, got ${got}`;
      }
      if (iss.code !== 'unrecognized_keys') return undefined;
      return iss.keys.map((k) => `unknown key ${JSON.stringify(k)}${suggestKey(k, known)}`).join('; ');
    },
  });
}
