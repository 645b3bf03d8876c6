/**
 * A fallback for label-matcher regular expressions that use RE2 syntax JavaScript lacks: flag groups
 * anywhere in the pattern (`(?i:PRO)`, `a(?i)b`), `(?P<name>…)`, `\z`, `\A`, `\Q…\E`, POSIX classes
 * (`[[:alpha:]]`) and one-letter Unicode classes (`\pL`). The pattern is rewritten into an equivalent
 * JavaScript regular expression (case-insensitivity is expanded into character classes).
 *
 * `compileAnchoredRegex` (matcher.ts) compiles most patterns directly and uses this only for patterns
 * JavaScript rejects.
 */

interface Flags {
  i: boolean;
  s: boolean;
  m: boolean;
}

const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7f',
  blank: '\\t ',
  cntrl: '\\x00-\\x1f\\x7f',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

function escapeChar(ch: string): string {
  const cp = ch.codePointAt(0)!;
  if (/[A-Za-z0-9_]/.test(ch) || cp > 0x7f) return ch;
  return '\\x' + cp.toString(16).padStart(2, '0');
}

function literal(ch: string, f: Flags): string {
  if (f.i && ch.toLowerCase() !== ch.toUpperCase()) {
    const lo = ch.toLowerCase();
    const up = ch.toUpperCase();
    if (Array.from(lo).length === 1 && Array.from(up).length === 1) return `[${lo}${up}]`;
  }
  return escapeChar(ch);
}

/** Translates an RE2 pattern; throws a SyntaxError for what it cannot translate. */
export function translateRE2(src: string): string {
  const chars = Array.from(src);
  let i = 0;
  let flags: Flags = { i: false, s: true, m: false };
  const stack: Flags[] = [];
  let out = '';
  const fail = (why: string): never => {
    throw new SyntaxError(why);
  };
  const parseFlags = (text: string, f: Flags): Flags => {
    const nf = { ...f };
    let on = true;
    for (const c of text) {
      if (c === '-') on = false;
      else if (c === 'i' || c === 's' || c === 'm') nf[c] = on;
      else fail('invalid or unsupported Perl syntax');
    }
    return nf;
  };
  const escape = (inClass: boolean): string => {
    const c = chars[i + 1];
    if (c === undefined) return fail('trailing backslash at end of expression');
    i += 2;
    if (c === 'z') return inClass ? fail('invalid escape sequence') : '$';
    if (c === 'A') return inClass ? fail('invalid escape sequence') : '^';
    if (c === 'p' || c === 'P') {
      if (chars[i] === '{') {
        const close = chars.indexOf('}', i);
        if (close < 0) fail('invalid character class range');
        const name = chars.slice(i + 1, close).join('');
        i = close + 1;
        return `\\${c}{${name}}`;
      }
      const name = chars[i++];
      if (name === undefined) return fail('invalid character class range');
      return `\\${c}{${name}}`;
    }
    if (/[dDsSwWbBtnrfv]/.test(c)) return '\\' + c;
    if (c === 'x') {
      if (chars[i] === '{') {
        const close = chars.indexOf('}', i);
        if (close < 0) fail('invalid escape sequence');
        const hex = chars.slice(i + 1, close).join('');
        i = close + 1;
        return `\\u{${hex}}`;
      }
      const hex = chars.slice(i, i + 2).join('');
      i += 2;
      return '\\x' + hex;
    }
    if (/[0-7]/.test(c)) {
      let oct = c;
      while (oct.length < 3 && /[0-7]/.test(chars[i] ?? '')) oct += chars[i++];
      return '\\x' + parseInt(oct, 8).toString(16).padStart(2, '0');
    }
    if (/[A-Za-z0-9]/.test(c)) return fail('invalid escape sequence');
    return inClass ? escapeChar(c) : literal(c, flags);
  };
  const charClass = (): string => {
    i++; // [
    let body = '';
    if (chars[i] === '^') {
      body += '^';
      i++;
    }
    let first = true;
    while (i < chars.length && (chars[i] !== ']' || first)) {
      first = false;
      const c = chars[i]!;
      if (c === '[' && chars[i + 1] === ':') {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(chars.slice(i, i + 12).join(''));
        if (m === null || POSIX[m[2]!] === undefined) return fail('invalid character class range');
        if (m[1] === '^') return fail('invalid or unsupported Perl syntax');
        body += POSIX[m[2]!];
        i += Array.from(m[0]).length;
        continue;
      }
      let piece: string;
      let ch: string | null = null;
      if (c === '\\') piece = escape(true);
      else {
        ch = c;
        piece = escapeChar(c);
        i++;
      }
      if (chars[i] === '-' && chars[i + 1] !== undefined && chars[i + 1] !== ']') {
        i++;
        const d = chars[i]!;
        let hiPiece: string;
        let hi: string | null = null;
        if (d === '\\') hiPiece = escape(true);
        else {
          hi = d;
          hiPiece = escapeChar(d);
          i++;
        }
        body += `${piece}-${hiPiece}`;
        if (flags.i && ch !== null && hi !== null) {
          if (/[a-z]/.test(ch) && /[a-z]/.test(hi)) body += `${ch.toUpperCase()}-${hi.toUpperCase()}`;
          else if (/[A-Z]/.test(ch) && /[A-Z]/.test(hi)) body += `${ch.toLowerCase()}-${hi.toLowerCase()}`;
        }
        continue;
      }
      body += piece;
      if (flags.i && ch !== null && ch.toLowerCase() !== ch.toUpperCase()) {
        body += escapeChar(ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase());
      }
    }
    if (chars[i] !== ']') fail('missing closing ]');
    i++;
    return `[${body}]`;
  };
  while (i < chars.length) {
    const c = chars[i]!;
    switch (c) {
      case '\\':
        if (chars[i + 1] === 'Q') {
          i += 2;
          while (i < chars.length && !(chars[i] === '\\' && chars[i + 1] === 'E')) out += literal(chars[i++]!, flags);
          i += 2;
        } else out += escape(false);
        break;
      case '[':
        out += charClass();
        break;
      case '(': {
        const m = /^\(\?([-a-zA-Z]*)(:|\))/.exec(chars.slice(i, i + 12).join(''));
        const named = chars[i + 2] === 'P' && chars[i + 3] === '<' ? 4 : chars[i + 2] === '<' ? 3 : 0;
        if (chars[i + 1] === '?' && named > 0) {
          const close = chars.indexOf('>', i + named);
          const name = close < 0 ? '' : chars.slice(i + named, close).join('');
          if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) fail('invalid named capture');
          stack.push(flags);
          out += `(?<${name}>`;
          i = close + 1;
        } else if (m !== null && m[2] === ')') {
          flags = parseFlags(m[1]!, flags);
          i += m[0].length;
        } else if (m !== null) {
          stack.push(flags);
          flags = parseFlags(m[1]!, flags);
          out += '(?:';
          i += m[0].length;
        } else if (chars[i + 1] === '?') {
          fail('invalid or unsupported Perl syntax');
        } else {
          stack.push(flags);
          out += '(';
          i++;
        }
        break;
      }
      case ')':
        if (stack.length === 0) fail('unexpected )');
        flags = stack.pop()!;
        out += ')';
        i++;
        break;
      case '.':
        out += flags.s ? '[\\s\\S]' : '[^\\n]';
        i++;
        break;
      case '^':
        out += flags.m ? '(?:^|(?<=\\n))' : '^';
        i++;
        break;
      case '$':
        out += flags.m ? '(?:$|(?=\\n))' : '$';
        i++;
        break;
      case '|':
      case '*':
      case '+':
      case '?':
        out += c;
        i++;
        break;
      case '{': {
        const m = /^\{\d+(,\d*)?\}/.exec(chars.slice(i, i + 24).join(''));
        if (m !== null) {
          out += m[0];
          i += m[0].length;
        } else {
          out += '\\{';
          i++;
        }
        break;
      }
      default:
        out += literal(c, flags);
        i++;
    }
  }
  if (stack.length > 0) fail('missing closing )');
  return out;
}
