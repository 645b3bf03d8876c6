/**
 * How far a queue has sent, and remembering it across restarts.
 *
 * Every WAL record the watcher reads becomes a "unit" (ids in read order) that ends at a WAL position and
 * counts the samples of it still in flight. Shards acknowledge samples out of order across units (shard 1
 * may finish record 7 while shard 2 still retries record 5), so the queue's position is the end of the
 * longest prefix of units that are sealed (every sample handed to a shard) and fully acknowledged:
 * everything before it is at the receiver, whatever the shards do next.
 */
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { syncDir } from '../../util/fs.js';
import type { WalPosition } from '../storage/segments.js';

interface Unit {
  segment: number;
  end: number;
  outstanding: number;
  sealed: boolean;
}

export class AckTracker {
  private units: Unit[] = [];
  private head = 0;
  /** Id of units[head]. */
  private baseId = 0;
  private pos: WalPosition;

  constructor(
    start: WalPosition,
    private readonly onAdvance: (pos: WalPosition) => void = () => undefined,
  ) {
    this.pos = { ...start };
  }

  /** Everything before this position has been acknowledged (or deliberately dropped). */
  get acked(): WalPosition {
    return this.pos;
  }

  /** Id the next unit will get. */
  get nextId(): number {
    return this.baseId + this.units.length - this.head;
  }

  /** Units not yet released (for metrics and tests). */
  get inFlightUnits(): number {
    return this.units.length - this.head;
  }

  /** Starts a unit for the record that ends at `end` in `segment`; seal it once all its samples are handed out. */
  open(segment: number, end: number): number {
    this.units.push({ segment, end, outstanding: 0, sealed: false });
    return this.nextId - 1;
  }

  add(id: number, n: number): void {
    this.unit(id).outstanding += n;
  }

  seal(id: number): void {
    this.unit(id).sealed = true;
    this.advance();
  }

  /** `n` samples of unit `id` are settled (sent, or dropped on purpose). */
  done(id: number, n: number): void {
    const u = this.unit(id);
    u.outstanding -= n;
    if (u.outstanding < 0) throw new Error(`ack tracker: unit ${id} acknowledged ${-u.outstanding} samples more than it had`);
    if (id === this.baseId) this.advance();
  }

  /** Settles the units of a batch: `ids` in batch order (runs of equal ids are common). */
  doneMany(ids: Float64Array, n: number): void {
    let i = 0;
    let lowest = Infinity;
    while (i < n) {
      const id = ids[i]!;
      let j = i + 1;
      while (j < n && ids[j] === id) j++;
      const u = this.unit(id);
      u.outstanding -= j - i;
      if (u.outstanding < 0) throw new Error(`ack tracker: unit ${id} acknowledged ${-u.outstanding} samples more than it had`);
      if (id < lowest) lowest = id;
      i = j;
    }
    if (lowest === this.baseId) this.advance();
  }

  /** Id of the first unit in `segment` or later (nextId when the watcher has not read that far). */
  firstIdFromSegment(segment: number): number {
    for (let i = this.head; i < this.units.length; i++) if (this.units[i]!.segment >= segment) return this.baseId + i - this.head;
    return this.nextId;
  }

  private unit(id: number): Unit {
    const u = this.units[this.head + id - this.baseId];
    if (u === undefined) throw new Error(`ack tracker: unknown unit ${id} (live ${this.baseId}..${this.nextId - 1})`);
    return u;
  }

  private advance(): void {
    let moved = false;
    while (this.head < this.units.length) {
      const u = this.units[this.head]!;
      if (!u.sealed || u.outstanding > 0) break;
      this.pos = { segment: u.segment, offset: u.end };
      this.head++;
      this.baseId++;
      moved = true;
    }
    if (this.head > 1024 && this.head * 2 > this.units.length) {
      this.units = this.units.slice(this.head);
      this.head = 0;
    }
    if (moved) this.onAdvance(this.pos);
  }

  /** Moves the position to the start of `segment` when nothing is in flight (the watcher entered a new segment). */
  enterSegment(segment: number): void {
    if (this.head === this.units.length && segment > this.pos.segment) {
      this.pos = { segment, offset: 0 };
      this.onAdvance(this.pos);
    }
  }
}

/** A queue's position file, `<queuesDir>/<name>.json`: written atomically (tmp, fsync, rename, fsync dir). */
export class PositionFile {
  readonly path: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    queuesDir: string,
    readonly queue: string,
    private readonly noSync = false,
  ) {
    this.path = join(queuesDir, fileNameFor(queue));
  }

  /**
   * The stored position; null when there is none. A file that cannot be understood raises an error naming
   * the file and the problem (the caller decides where to start instead).
   */
  async read(): Promise<WalPosition | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    return parsePosition(text, this.path);
  }

  /** Writes `pos` (writes are serialised; a later write never lands before an earlier one). */
  write(pos: WalPosition, extra: Record<string, unknown> = {}): Promise<void> {
    const body = JSON.stringify({ queue: this.queue, segment: pos.segment, offset: pos.offset, ...extra, updated: new Date().toISOString() }) + '\n';
    const run = this.writing.then(() => writeAtomic(this.path, body, this.noSync));
    this.writing = run.catch(() => undefined);
    return run;
  }
}

/** Parses a position file's text; throws with the file name and the first problem. */
export function parsePosition(text: string, path: string): WalPosition {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(`position file ${path} is not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`position file ${path} does not hold an object`);
  const o = v as Record<string, unknown>;
  for (const k of ['segment', 'offset'] as const) {
    const x = o[k];
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw new Error(`position file ${path}: ${k} is ${JSON.stringify(x)}, want a non-negative integer`);
  }
  return { segment: o['segment'] as number, offset: o['offset'] as number };
}

/** Queue names are user text: keep safe characters, escape the rest, so every name maps to one file. */
export function fileNameFor(queue: string): string {
  if (queue === '') return '%.json';
  return queue.replace(/[^A-Za-z0-9_.-]/g, (c) => '%' + c.codePointAt(0)!.toString(16).padStart(2, '0')).replace(/^\./, '%2e') + '.json';
}

async function writeAtomic(path: string, body: string, noSync: boolean): Promise<void> {
  const tmp = path + '.tmp';
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(body);
    if (!noSync) await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  if (!noSync) await syncDir(dirname(path));
}
