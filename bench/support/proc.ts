/** What the benchmarks read about a server process from /proc (Linux only). */
import { readFileSync } from 'node:fs';

/** sysconf(_SC_CLK_TCK) on Linux (100 on every mainstream kernel configuration). */
export const CLK_TCK = 100;

/** utime + stime of the whole process (all threads), in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) is in parentheses and may contain spaces; the rest follows its closing parenthesis.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[14 - 3]);
  const stime = Number(rest[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`/proc/${pid}/stat: cannot parse utime/stime`);
  return (utime + stime) / CLK_TCK;
}

export interface MemoryStatus {
  /** Current resident set, bytes. */
  rss: number;
  /** Peak resident set ("high water mark"), bytes. */
  hwm: number;
}

export function memoryStatus(pid: number): MemoryStatus {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    if (!m) throw new Error(`/proc/${pid}/status: no ${key}`);
    return Number(m[1]) * 1024;
  };
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}
