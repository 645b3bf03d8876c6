/** What the benchmarks read about a server process from /proc (Linux only). */
import { readdirSync, readFileSync } from 'node:fs';

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

/** utime and stime of the whole process separately, in seconds (system time shows syscalls: fsync, network). */
export function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[14 - 3]);
  const stime = Number(rest[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`/proc/${pid}/stat: cannot parse utime/stime`);
  return { user: utime / CLK_TCK, system: stime / CLK_TCK };
}

/**
 * utime + stime of each thread of a process, in seconds, by thread id. Node names all its threads `node`,
 * so the useful split is the main (JavaScript) thread, whose tid is the pid, against the rest: V8's GC and
 * compiler helpers and the libuv pool (fs writes, fsync, zlib). Threads that exit meanwhile drop out.
 */
export function threadCpu(pid: number): Map<number, { comm: string; user: number; system: number }> {
  const out = new Map<number, { comm: string; user: number; system: number }>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch (err) {
    throw new Error(`/proc/${pid}/task: ${(err as Error).message}`);
  }
  for (const tid of tids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const user = Number(rest[14 - 3]) / CLK_TCK;
    const system = Number(rest[15 - 3]) / CLK_TCK;
    if (!Number.isFinite(user) || !Number.isFinite(system)) continue;
    out.set(Number(tid), { comm, user, system });
  }
  return out;
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
