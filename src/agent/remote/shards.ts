/**
 * One shard of a queue: a bounded FIFO of samples (columns in a ring, no object per sample) and a loop
 * that cuts batches of up to `max_samples_per_send`, or fewer once the oldest queued sample has waited
 * `batch_send_deadline`, and hands each to the queue's sender. One batch is in flight at a time, so the
 * samples of a series (always routed to the same shard) reach the receiver in order.
 */
/**
 * Samples cut from a shard, in queue order: the series as its WAL ref (see series-table.ts); `units` are
 * the ack-tracker units they belong to.
 */
export interface Batch {
  refs: Int32Array;
  ts: Float64Array;
  vs: Float64Array;
  units: Float64Array;
  n: number;
}

export function emptyBatch(cap: number): Batch {
  return { refs: new Int32Array(cap), ts: new Float64Array(cap), vs: new Float64Array(cap), units: new Float64Array(cap), n: 0 };
}

/** Keeps the samples for which `keep(i)` is true, in order; returns how many were removed. */
export function filterBatch(b: Batch, keep: (i: number) => boolean, onRemoved: (unit: number) => void): number {
  let w = 0;
  for (let i = 0; i < b.n; i++) {
    if (keep(i)) {
      if (w !== i) {
        b.refs[w] = b.refs[i]!;
        b.ts[w] = b.ts[i]!;
        b.vs[w] = b.vs[i]!;
        b.units[w] = b.units[i]!;
      }
      w++;
    } else {
      onRemoved(b.units[i]!);
    }
  }
  const removed = b.n - w;
  b.n = w;
  return removed;
}

export class ShardQueue {
  private readonly refs: Int32Array;
  private readonly ts: Float64Array;
  private readonly vs: Float64Array;
  private readonly units: Float64Array;
  private head = 0;
  private len = 0;
  /** performance.now() when the oldest queued sample arrived. */
  oldestAt = 0;

  constructor(readonly capacity: number) {
    this.refs = new Int32Array(capacity);
    this.ts = new Float64Array(capacity);
    this.vs = new Float64Array(capacity);
    this.units = new Float64Array(capacity);
  }

  get length(): number {
    return this.len;
  }

  push(ref: number, t: number, v: number, unit: number): boolean {
    if (this.len === this.capacity) return false;
    if (this.len === 0) this.oldestAt = performance.now();
    let i = this.head + this.len;
    if (i >= this.capacity) i -= this.capacity;
    this.refs[i] = ref;
    this.ts[i] = t;
    this.vs[i] = v;
    this.units[i] = unit;
    this.len++;
    return true;
  }

  /** Moves up to `max` samples from the front into `out` (reset first). */
  take(max: number, out: Batch): void {
    const n = Math.min(max, this.len);
    // At most two runs of the ring: copied with set() rather than element by element.
    const first = Math.min(n, this.capacity - this.head);
    const h = this.head;
    out.refs.set(this.refs.subarray(h, h + first), 0);
    out.ts.set(this.ts.subarray(h, h + first), 0);
    out.vs.set(this.vs.subarray(h, h + first), 0);
    out.units.set(this.units.subarray(h, h + first), 0);
    if (first < n) {
      const rest = n - first;
      out.refs.set(this.refs.subarray(0, rest), first);
      out.ts.set(this.ts.subarray(0, rest), first);
      out.vs.set(this.vs.subarray(0, rest), first);
      out.units.set(this.units.subarray(0, rest), first);
    }
    out.n = n;
    this.head = (this.head + n) % this.capacity;
    this.len -= n;
    if (this.len > 0) this.oldestAt = performance.now();
  }

  /** Drops queued samples of units below `unit` (they are at the front: units grow in queue order). */
  dropBelow(unit: number, onDropped: (unit: number) => void): number {
    let n = 0;
    while (this.len > 0 && this.units[this.head]! < unit) {
      onDropped(this.units[this.head]!);
      this.head = (this.head + 1) % this.capacity;
      this.len--;
      n++;
    }
    return n;
  }
}

export interface ShardHost {
  readonly maxSamplesPerSend: number;
  readonly batchDeadlineMs: number;
  /** Sends one batch (retrying as the queue decides); resolves when it is settled or the queue stops. */
  sendBatch(shard: Shard, batch: Batch): Promise<void>;
}

export class Shard {
  readonly queue: ShardQueue;
  /** The batch being sent (null between batches). */
  inflight: Batch | null = null;
  private readonly spare: Batch;
  private stopping = false;
  private flushing = false;
  private wakeSender: (() => void) | null = null;
  private spaceWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private loop: Promise<void> | null = null;

  constructor(
    readonly index: number,
    capacity: number,
    private readonly host: ShardHost,
  ) {
    this.queue = new ShardQueue(capacity);
    this.spare = emptyBatch(host.maxSamplesPerSend);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Queues one sample; false when full (wait with `waitForSpace`). */
  push(ref: number, t: number, v: number, unit: number): boolean {
    if (!this.queue.push(ref, t, v, unit)) return false;
    if (this.queue.length >= this.host.maxSamplesPerSend || this.queue.length === 1) this.wakeSender?.();
    return true;
  }

  waitForSpace(): Promise<void> {
    if (this.queue.length < this.queue.capacity || this.stopping) return Promise.resolve();
    return new Promise((r) => this.spaceWaiters.push(r));
  }

  get pending(): number {
    return this.queue.length + (this.inflight?.n ?? 0);
  }

  isIdle(): boolean {
    return this.queue.length === 0 && this.inflight === null;
  }

  /** Resolves when the queue is empty and nothing is in flight. */
  waitIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Sends what is queued without waiting for full batches or the deadline (until `stop`). */
  flush(): void {
    this.flushing = true;
    this.wakeSender?.();
  }

  /** Ends the loop after the current batch settles; queued samples stay unsent. */
  stop(): Promise<void> {
    this.stopping = true;
    this.wakeSender?.();
    this.releaseSpaceWaiters();
    return this.loop ?? Promise.resolve();
  }

  /** Wakes producers after samples left the queue (sent or dropped). */
  releaseSpaceWaiters(): void {
    const ws = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const w of ws) w();
  }

  /** Wakes `waitIdle` callers when the shard has become idle (after a send, or after samples were dropped). */
  notifyIdle(): void {
    if (!this.isIdle()) return;
    const ws = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of ws) w();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const q = this.queue;
      const full = q.length >= this.host.maxSamplesPerSend;
      const due = q.length > 0 && (this.flushing || performance.now() - q.oldestAt >= this.host.batchDeadlineMs);
      if (!full && !due) {
        const wait = q.length === 0 ? 60_000 : Math.max(1, this.host.batchDeadlineMs - (performance.now() - q.oldestAt));
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, wait);
          this.wakeSender = done;
          // Unhooked at the first call: a producer pushing a whole WAL record wakes the sender once.
          const self = this;
          function done() {
            if (self.wakeSender === done) self.wakeSender = null;
            clearTimeout(t);
            resolve();
          }
        });
        this.wakeSender = null;
        continue;
      }
      q.take(this.host.maxSamplesPerSend, this.spare);
      this.inflight = this.spare;
      this.releaseSpaceWaiters();
      try {
        await this.host.sendBatch(this, this.spare);
      } finally {
        this.inflight = null;
      }
      this.notifyIdle();
    }
    this.releaseSpaceWaiters();
  }
}
