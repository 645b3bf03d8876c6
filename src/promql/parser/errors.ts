/** Parse errors in Prometheus's format: `<line>:<column>: parse error: <message>`. */
import type { PosRange } from './ast.js';
import { utf8Length } from './goutil.js';

/**
 * Prometheus's `line:column` for an offset into `query`: lines are 1-based, and the column counts bytes
 * from the start of the line (1-based), as Prometheus reports it.
 */
export function formatPosition(query: string, pos: number): string {
  if (query === '') return 'unknown position';
  if (pos < 0 || pos > query.length) return 'invalid position';
  const before = query.slice(0, pos);
  let line = 1;
  let lastBreak = -1;
  for (let i = 0; i < before.length; i++) {
    if (before.charCodeAt(i) === 0x0a) {
      line++;
      lastBreak = i;
    }
  }
  const col = utf8Length(before.slice(lastBreak + 1)) + 1;
  return `${line}:${col}`;
}

/** One problem found while parsing. */
export interface ParseErrorDetail {
  posRange: PosRange;
  /** The message without position (e.g. `unexpected end of input`). */
  message: string;
}

/**
 * Thrown by the parser. `message` is Prometheus's text for the first problem; `errors` lists every problem
 * recorded before parsing stopped (the parser stops at the first syntax error).
 */
export class ParseError extends Error {
  readonly posRange: PosRange;
  readonly rawMessage: string;
  readonly query: string;
  readonly errors: readonly ParseErrorDetail[];

  constructor(query: string, errors: readonly ParseErrorDetail[]) {
    const first = errors[0] ?? { posRange: { start: 0, end: 0 }, message: 'error contains no error message' };
    super(`${formatPosition(query, first.posRange.start)}: parse error: ${first.message}`);
    this.name = 'ParseError';
    this.posRange = first.posRange;
    this.rawMessage = first.message;
    this.query = query;
    this.errors = errors;
  }
}
