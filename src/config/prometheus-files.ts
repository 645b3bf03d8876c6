/** Environment expansion and globbing as Prometheus (Go's os.Expand and filepath.Glob) does them. */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ConfigError } from './load.js';

const q = JSON.stringify;

/** `$VAR`, `${VAR}` and `$$` as Go's os.Expand with Prometheus's mapping; unset variables are empty. */
export function expandEnv(s: string, env: Readonly<Record<string, string | undefined>>): string {
  if (!s.includes('$')) return s;
  const lookup = (name: string): string => (name === '$' ? '$' : (env[name] ?? ''));
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c !== '$' || i + 1 >= s.length) {
      out += c;
      i++;
      continue;
    }
    const rest = s.slice(i + 1);
    if (rest[0] === '{') {
      if (rest.length > 2 && /^[*#$@!?\-0-9]$/.test(rest[1]!) && rest[2] === '}') {
        out += lookup(rest[1]!);
        i += 4;
        continue;
      }
      const close = rest.indexOf('}');
      if (close === 1 || close < 0) {
        i += close === 1 ? 3 : 2; // malformed `${}` or `${…`: Go drops it
        continue;
      }
      out += lookup(rest.slice(1, close));
      i += close + 2;
    } else if (/^[*#$@!?\-0-9]/.test(rest)) {
      out += lookup(rest[0]!);
      i += 2;
    } else {
      const m = /^[A-Za-z0-9_]*/.exec(rest)![0];
      if (m === '') out += '$';
      else out += lookup(m);
      i += 1 + m.length;
    }
  }
  return out;
}

/** Go filepath.Match syntax for one path element: `*`, `?`, `[…]` (with `^` negation), `\` escapes. */
function globElement(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]}`.replace(/^\\([A-Za-z0-9])$/, '$1');
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new ConfigError(`syntax error in pattern ${q(pattern)}`);
      let body = pattern.slice(i + 1, end);
      if (body.startsWith('^')) body = `^${body.slice(1)}`;
      re += `[${body.replace(/[\]\\]/g, '\\$&')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const GLOB_META = /[*?[\\]/;

/** The files matching a glob, sorted, as Go's filepath.Glob returns them (missing directories match nothing). */
export async function globFiles(pattern: string): Promise<string[]> {
  if (!GLOB_META.test(pattern)) {
    try {
      await stat(pattern);
      return [pattern];
    } catch {
      return [];
    }
  }
  const dir = dirname(pattern);
  const dirs = GLOB_META.test(dir) ? await globFiles(dir) : [dir];
  const re = globElement(basename(pattern));
  const out: string[] = [];
  for (const d of dirs) {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      continue;
    }
    for (const n of names.sort()) if (re.test(n)) out.push(join(d, n));
  }
  return out;
}
