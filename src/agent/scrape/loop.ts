/**
 * One target's scrape loop (Prometheus's scrapeLoop). Timing: the first scrape waits for the target's
 * offset — a phase within the interval fixed by the target's hash and the process seed — and later ones
 * follow on aligned ticks; a scrape that starts within min(interval/100, 2 ms) of its tick is stamped with
 * the tick itself, so timestamps are exactly one interval apart and compress well.
 *
 * Each scrape: GET the body, append its samples (see append.ts) and the report series with the scrape
 * timestamp, commit once. A failed scrape — HTTP error, timeout, parse error, a limit — appends nothing
 * from the body, marks every series of the previous scrape stale, and reports up=0 with the error in the
 * target's lastError. Nothing in here throws out of the loop.
 *
 * When the loop is stopped because its target went away, stale markers for its last series (and report
 * series) are written just over two intervals later, stamped at the next tick that would have been — late
 * enough that a target re-created under a new loop has written newer samples, which then win. On shutdown
 * no markers are written (the next start continues the series).
 */
import type { Appendable, Appender, SeriesRef } from '../../storage/interface.js';
import type { Labels } from '../../model/labels.js';
import { STALE_NAN } from '../../model/value.js';
import { StorageError } from '../../storage/errors.js';
import type { Logger } from '../../util/log.js';
import { appendEmpty, appendScrape, type AppendResult, type AppendSettings } from './append.js';
import { ScrapeCache } from './cache.js';
import { ScrapeError, type ScrapeClient } from './client.js';
import { reportLabels } from './labels.js';
import type { ScrapeMetrics } from './metrics.js';
import { scrapeOffset, type Target } from './target.js';

export interface LoopSettings extends AppendSettings {
  /** The Accept header sent with every scrape. */
  readonly accept: string;
  /** Also report scrape_timeout_seconds, scrape_sample_limit and scrape_body_size_bytes. */
  readonly extraMetrics: boolean;
}

export interface LoopDeps {
  readonly appendable: Appendable;
  readonly client: ScrapeClient;
  readonly logger: Logger;
  readonly metrics: ScrapeMetrics;
  /** Wall clock in milliseconds (sample timestamps and tick times). */
  readonly now: () => number;
  readonly seed: bigint;
  /** Aborted on shutdown: in-flight scrapes are cancelled and nothing more is written. */
  readonly shutdown: AbortSignal;
  /** See DEFAULT_TIMESTAMP_TOLERANCE_MS. */
  readonly timestampToleranceMs?: number;
}

const REPORT_NAMES = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling', 'scrape_series_added'];
const EXTRA_REPORT_NAMES = ['scrape_timeout_seconds', 'scrape_sample_limit', 'scrape_body_size_bytes'];
/**
 * How far from its tick a scrape may start and still be stamped with the tick (never more than 1% of the
 * interval). Prometheus uses 2 ms; Node's timers fire a millisecond or two late as a rule, so a little more.
 */
export const DEFAULT_TIMESTAMP_TOLERANCE_MS = 5;

const MAX_TIMER_MS = 2 ** 31 - 1;

interface ReportSeries {
  readonly labels: Labels;
  ref: SeriesRef;
}

function rejectedSample(err: unknown): boolean {
  return err instanceof StorageError && (err.kind === 'out_of_order' || err.kind === 'duplicate_timestamp' || err.kind === 'too_old');
}

export class ScrapeLoop {
  readonly cache: ScrapeCache;
  /** Set by the pool (target_limit exceeded): scrapes are skipped and fail with this text. */
  forcedError: string | null = null;
  private readonly report: ReportSeries[];
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private endOfRunTimer: NodeJS.Timeout | null = null;
  /** Time of the next tick. */
  private next = 0;
  /** Timestamp of the last scrape (0: never scraped). */
  private lastTs = 0;
  private inflight: Promise<void> | null = null;
  private stopped = false;
  private started = false;

  constructor(
    readonly target: Target,
    private readonly settings: LoopSettings,
    private readonly deps: LoopDeps,
    /** A stopped loop of the same target whose cache this one continues (a reload that keeps caches). */
    private from?: ScrapeLoop,
  ) {
    this.cache = from?.cache ?? new ScrapeCache();
    const names = settings.extraMetrics ? [...REPORT_NAMES, ...EXTRA_REPORT_NAMES] : REPORT_NAMES;
    this.report = names.map((n) => ({ labels: reportLabels(n, target.publicLabels), ref: 0 }));
    this.log = deps.logger.with({ target: target.url });
  }

  get interval(): number {
    return this.target.intervalMs;
  }

  /** Milliseconds from `now` to this target's first scrape. */
  offset(now = this.deps.now()): number {
    return scrapeOffset(now, this.interval, this.target.hash, this.deps.seed);
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    if (this.from) {
      this.lastTs = Math.max(this.lastTs, this.from.lastTs);
      this.from = undefined;
    }
    const now = this.deps.now();
    this.next = Math.round(now + this.offset(now));
    this.arm();
  }

  private arm(): void {
    const delay = Math.max(0, this.next - this.deps.now());
    // setTimeout cannot wait longer than 2^31-1 ms (it would fire at once); long intervals wait in steps.
    this.timer = delay > MAX_TIMER_MS ? setTimeout(() => this.arm(), MAX_TIMER_MS) : setTimeout(() => void this.tick(), delay);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (this.stopped || this.deps.shutdown.aborted) return;
    const interval = this.interval;
    const tolerance = Math.min(interval / 100, this.deps.timestampToleranceMs ?? DEFAULT_TIMESTAMP_TOLERANCE_MS);
    const scheduled = this.next;
    const now = this.deps.now();
    let ts = Math.abs(now - scheduled) <= tolerance ? scheduled : Math.floor(now);
    if (ts <= this.lastTs) ts = this.lastTs + 1;
    this.inflight = this.scrapeAndReport(ts)
      .catch((err: unknown) => {
        this.log.error('scrape loop error; the loop goes on', { err: (err as Error)?.message ?? String(err) });
      })
      .then(() => {
        this.lastTs = ts; // before stop() (which awaits this) decides about staleness markers
      });
    await this.inflight;
    this.inflight = null;
    if (this.stopped || this.deps.shutdown.aborted) return;
    // Ticks missed while scraping are skipped, keeping the phase.
    let next = scheduled + interval;
    const after = this.deps.now();
    if (next < after - tolerance) next += Math.ceil((after - tolerance - next) / interval) * interval;
    this.next = next;
    this.arm();
  }

  /** Runs one scrape now (tests and tools); resolves when it is committed. */
  async scrapeOnce(ts = Math.floor(this.deps.now())): Promise<void> {
    await this.scrapeAndReport(ts);
    this.lastTs = ts;
  }

  /**
   * Stops scraping and waits for a scrape in progress. With `staleness`, stale markers for the target's
   * series are written about two intervals later (unless shutdown comes first).
   */
  async stop(opts: { staleness: boolean }): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.inflight) await this.inflight;
    if (opts.staleness && this.lastTs !== 0 && !this.deps.shutdown.aborted) this.scheduleEndOfRunStaleness();
  }

  /** Pending end-of-run markers are cancelled (the cache moves to a new loop, or the process stops). */
  cancelEndOfRunStaleness(): void {
    if (this.endOfRunTimer) clearTimeout(this.endOfRunTimer);
    this.endOfRunTimer = null;
  }

  private scheduleEndOfRunStaleness(): void {
    const interval = this.interval;
    const now = this.deps.now();
    const ticks = Math.max(1, Math.ceil((now - this.lastTs) / interval));
    const staleTime = this.lastTs + ticks * interval;
    const writeAt = staleTime + interval + interval / 10;
    const onShutdown = (): void => this.cancelEndOfRunStaleness();
    this.deps.shutdown.addEventListener('abort', onShutdown, { once: true });
    const wait = (): void => {
      const delay = writeAt - this.deps.now();
      if (delay > MAX_TIMER_MS) {
        this.endOfRunTimer = setTimeout(wait, MAX_TIMER_MS);
        this.endOfRunTimer.unref();
        return;
      }
      this.endOfRunTimer = setTimeout(() => {
        this.endOfRunTimer = null;
        this.deps.shutdown.removeEventListener('abort', onShutdown);
        if (this.deps.shutdown.aborted) return;
        void this.writeEndOfRunStaleness(staleTime);
      }, Math.max(0, delay));
      this.endOfRunTimer.unref();
    };
    wait();
  }

  private async writeEndOfRunStaleness(t: number): Promise<void> {
    let app: Appender | null = null;
    try {
      app = this.deps.appendable.appender();
      const err = appendEmpty(app, this.cache, t, this.deps.metrics);
      if (err) this.log.warn('end-of-run stale markers incomplete', { err });
      for (const r of this.report) this.appendReport(app, r, t, STALE_NAN);
      await app.commit();
      app = null;
      this.log.debug('target gone: wrote stale markers for its series', { stale_time: t });
    } catch (err) {
      app?.rollback();
      this.log.warn('target gone: writing stale markers for its series failed; they end without a marker', { err: (err as Error).message });
    }
  }

  private appendReport(app: Appender, r: ReportSeries, t: number, v: number): void {
    try {
      r.ref = app.append(r.ref, r.labels, t, v);
    } catch (err) {
      if (!rejectedSample(err)) throw err;
    }
  }

  /** One scrape: fetch, append, report, commit. Never throws. */
  private async scrapeAndReport(ts: number): Promise<void> {
    const { deps, settings, target, cache } = this;
    const startWall = performance.timeOrigin + performance.now();
    const t0 = performance.now();
    deps.metrics.scrapes++;
    let scrapeErr: string | null = null;
    let bodySize = 0;
    let res: AppendResult | null = null;
    let app: Appender | null = null;
    try {
      if (this.forcedError !== null) {
        scrapeErr = this.forcedError;
      } else {
        try {
          const resp = await deps.client.scrape({ url: target.url, accept: settings.accept, timeoutMs: target.timeoutMs, signal: deps.shutdown });
          bodySize = resp.body.length;
          if (deps.shutdown.aborted) return;
          app = deps.appendable.appender();
          res = await appendScrape(app, cache, resp.body, resp.contentType, ts, target.publicLabels, settings, deps.metrics);
          if (res.err !== null) {
            scrapeErr = res.err;
            if (res.sampleLimitHit) deps.metrics.sampleLimitExceeded++;
            if (res.labelLimitHit) deps.metrics.labelLimitExceeded++;
            app.rollback();
            cache.forgetAttempt();
            app = null;
          } else {
            this.logSkipped(res);
          }
        } catch (err) {
          if (app !== null) {
            app.rollback();
            cache.forgetAttempt();
            app = null;
          }
          if (deps.shutdown.aborted) return;
          scrapeErr = (err as Error).message;
          if (err instanceof ScrapeError && err.bodySizeLimit) {
            bodySize = -1;
            deps.metrics.bodySizeLimitExceeded++;
          } else bodySize = 0;
        }
      }
      if (app === null) {
        // Nothing from the body is kept: every series of the last scrape ends here.
        app = deps.appendable.appender();
        const err = appendEmpty(app, cache, ts, deps.metrics);
        if (err !== null) {
          this.log.warn('appending stale markers failed', { err });
          app.rollback();
          app = deps.appendable.appender();
        }
      }
      const durationMs = performance.now() - t0;
      this.noteHealth(scrapeErr);
      target.report(startWall, durationMs, scrapeErr);
      if (scrapeErr !== null) deps.metrics.scrapeFailures++;
      const values = [
        scrapeErr === null ? 1 : 0,
        durationMs / 1000,
        res?.total ?? 0,
        res?.added ?? 0,
        res?.seriesAdded ?? 0,
        target.timeoutMs / 1000,
        settings.sampleLimit,
        scrapeErr === null || bodySize === -1 ? bodySize : 0,
      ];
      for (let i = 0; i < this.report.length; i++) this.appendReport(app, this.report[i]!, ts, values[i]!);
      const committing = app;
      app = null;
      await committing.commit();
    } catch (err) {
      app?.rollback();
      deps.metrics.commitFailures++;
      this.log.error('storing the scrape failed; its samples are lost', { err: (err as Error).message });
    }
  }

  private noteHealth(err: string | null): void {
    const t = this.target;
    if (err !== null && (t.health !== 'down' || t.lastError !== err)) {
      this.log.warn('scrape failed; target is down and its series are marked stale until it recovers', { err });
    } else if (err === null && t.health === 'down') {
      this.log.info('scrape succeeded again; target is up');
    }
  }

  private logSkipped(res: AppendResult): void {
    if (res.outOfOrder > 0) this.log.warn('dropped out-of-order samples of the scrape', { num_dropped: res.outOfOrder });
    if (res.duplicates > 0) this.log.warn('dropped samples with a repeated timestamp and a different value', { num_dropped: res.duplicates });
    if (res.outOfBounds > 0) this.log.warn('dropped samples too old or too far in the future', { num_dropped: res.outOfBounds });
  }
}
