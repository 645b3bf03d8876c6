/**
 * All remote_write queues of an agent, over one `AgentStorage`. `applyConfig` starts, keeps (same config
 * and external labels) or replaces queues; positions are keyed by queue name, so a replaced queue resumes
 * where its predecessor stopped. The manager also truncates the WAL: segments every queue has passed
 * (by the positions on disk, which is what a restart would resume from) are checkpointed away.
 *
 * Queue names: `name` when set, else `rw-<hash of url>` (with `-2`, `-3`, ... for further unnamed queues
 * to the same URL), so that editing an unnamed queue's other settings keeps its position.
 *
 * Disk budget per endpoint: `queue_config.max_wal_bytes` (an Argus extension to prometheus.yml, a byte size
 * such as `512MiB`; 0 = unlimited) when set, else `maxWalBytesPerQueue` (default 4 GiB).
 */
import { createHash } from 'node:crypto';
import type { Labels } from '../../model/labels.js';
import type { RemoteWriteConfig } from '../../config/prometheus-types.js';
import type { Logger } from '../../util/log.js';
import type { AgentStorage, TruncateResult } from '../storage/agent-storage.js';
import { QueueManager, defaultQueueName, type QueueOptions } from './queue-manager.js';

export interface RemoteWriteManagerOptions {
  storage: AgentStorage;
  logger: Logger;
  /** Default unsent-WAL budget per endpoint in bytes (0 = unlimited). Default 4 GiB. */
  maxWalBytesPerQueue?: number;
  /** How long stopping a queue keeps sending what is queued (default 60 s, as Prometheus's flush deadline). */
  flushDeadlineMs?: number;
  /** Position writes at most this often (default 1 s). */
  persistIntervalMs?: number;
  /** How often shard counts are reconsidered (default 10 s; 0 = never). */
  reshardIntervalMs?: number;
  /** How often the disk budgets are checked (default 5 s). */
  budgetCheckIntervalMs?: number;
  /** How often the WAL is truncated behind the slowest queue (default 60 s; 0 = only via `truncate()`). */
  truncateIntervalMs?: number;
  noSync?: boolean;
}

export const DEFAULT_MAX_WAL_BYTES = 4 * 1024 ** 3;

/** The disk budget of one endpoint: `queue_config.max_wal_bytes` when present, else the manager's default. */
export function maxWalBytesFor(cfg: RemoteWriteConfig, fallback: number): number {
  const v = cfg.queue_config.max_wal_bytes;
  return v !== undefined && Number.isFinite(v) && v >= 0 ? v : fallback;
}

function configHash(cfg: RemoteWriteConfig, ext: Labels): string {
  return createHash('sha256').update(JSON.stringify([cfg, ext])).digest('hex');
}

interface Entry {
  queue: QueueManager;
  hash: string;
}

export class RemoteWriteManager {
  private readonly storage: AgentStorage;
  private readonly log: Logger;
  private readonly opts: Required<Omit<RemoteWriteManagerOptions, 'storage' | 'logger'>>;
  private readonly entries = new Map<string, Entry>();
  /** applyConfig, truncation and stop run one at a time. */
  private chain: Promise<unknown> = Promise.resolve();
  private configured = false;
  private stopped = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(o: RemoteWriteManagerOptions) {
    this.storage = o.storage;
    this.log = o.logger.with({ component: 'remote' });
    this.opts = {
      maxWalBytesPerQueue: o.maxWalBytesPerQueue ?? DEFAULT_MAX_WAL_BYTES,
      flushDeadlineMs: o.flushDeadlineMs ?? 60_000,
      persistIntervalMs: o.persistIntervalMs ?? 1000,
      reshardIntervalMs: o.reshardIntervalMs ?? 10_000,
      budgetCheckIntervalMs: o.budgetCheckIntervalMs ?? 5000,
      truncateIntervalMs: o.truncateIntervalMs ?? 60_000,
      noSync: o.noSync ?? false,
    };
    if (this.opts.budgetCheckIntervalMs > 0) this.every(this.opts.budgetCheckIntervalMs, () => this.checkBudgets());
    if (this.opts.truncateIntervalMs > 0) {
      this.every(this.opts.truncateIntervalMs, () =>
        this.truncate().catch((err: Error) => this.log.error('agent WAL truncation failed; will try again', { err: err.message })),
      );
    }
  }

  private every(ms: number, fn: () => unknown): void {
    const t = setInterval(() => {
      if (!this.stopped) void fn();
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** The running queues, in config order. */
  queues(): QueueManager[] {
    return [...this.entries.values()].map((e) => e.queue);
  }

  queue(name: string): QueueManager | undefined {
    return this.entries.get(name)?.queue;
  }

  /**
   * Makes the running queues match `configs`. Unchanged queues keep running untouched; changed ones are
   * stopped (flushing up to the flush deadline) and restarted from their saved position; removed ones
   * stop. Throws (starting nothing new) when two queues would share a name or a setting is unsupported.
   */
  applyConfig(configs: readonly RemoteWriteConfig[], externalLabels: Labels): Promise<void> {
    return this.serial(async () => {
      if (this.stopped) throw new Error('remote write manager is stopped');
      const wanted = new Map<string, { cfg: RemoteWriteConfig; hash: string }>();
      const perUrl = new Map<string, number>();
      for (const cfg of configs) {
        let name = cfg.name;
        if (name === '') {
          const k = (perUrl.get(cfg.url) ?? 0) + 1;
          perUrl.set(cfg.url, k);
          name = defaultQueueName(cfg.url) + (k > 1 ? `-${k}` : '');
        }
        if (wanted.has(name)) throw new Error(`remote_write: two queues are named ${JSON.stringify(name)}; names must be unique`);
        wanted.set(name, { cfg, hash: configHash(cfg, externalLabels) });
      }
      const stopping: Promise<void>[] = [];
      for (const [name, e] of this.entries) {
        const w = wanted.get(name);
        if (w !== undefined && w.hash === e.hash) continue;
        this.entries.delete(name);
        stopping.push(e.queue.stop());
        this.log.info(w === undefined ? 'remote write queue removed' : 'remote write queue config changed; restarting it', { queue: name });
      }
      await Promise.all(stopping);
      const failures: string[] = [];
      for (const [name, w] of wanted) {
        if (this.entries.has(name)) continue;
        const qo: QueueOptions = {
          maxWalBytes: maxWalBytesFor(w.cfg, this.opts.maxWalBytesPerQueue),
          flushDeadlineMs: this.opts.flushDeadlineMs,
          persistIntervalMs: this.opts.persistIntervalMs,
          reshardIntervalMs: this.opts.reshardIntervalMs,
          noSync: this.opts.noSync,
        };
        try {
          const q = await QueueManager.start(this.storage, w.cfg, name, externalLabels, qo, this.log);
          this.entries.set(name, { queue: q, hash: w.hash });
        } catch (err) {
          failures.push(`${name}: ${(err as Error).message}`);
        }
      }
      this.configured = true;
      if (failures.length > 0) throw new Error(`remote_write: cannot start ${failures.length} queue(s): ${failures.join('; ')}`);
    });
  }

  private async checkBudgets(): Promise<void> {
    for (const q of this.queues()) {
      try {
        await q.checkDiskBudget();
      } catch (err) {
        this.log.error('remote write disk budget check failed', { queue: q.name, err: (err as Error).message });
      }
    }
  }

  /** Checks every queue's disk budget now (tests; the manager also does it on a timer). */
  checkDiskBudgets(): Promise<void> {
    return this.checkBudgets();
  }

  /**
   * Deletes the WAL segments that every queue has passed according to its saved position (all of them
   * but the current one when no queue is configured). Does nothing before the first `applyConfig`.
   */
  truncate(): Promise<TruncateResult | null> {
    return this.serial(async () => {
      if (!this.configured || this.stopped) return null;
      let keepFrom = this.storage.committed().segment;
      for (const q of this.queues()) keepFrom = Math.min(keepFrom, q.persistedPosition.segment);
      return this.storage.truncate(keepFrom);
    });
  }

  /** Stops every queue (each flushing up to the flush deadline) and saves their positions. */
  stop(): Promise<void> {
    return this.serial(async () => {
      if (this.stopped) return;
      this.stopped = true;
      for (const t of this.timers) clearInterval(t);
      await Promise.all(this.queues().map((q) => q.stop()));
      this.entries.clear();
    });
  }
}
