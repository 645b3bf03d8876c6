/**
 * Turns one scrape body into appends (Prometheus's scrapeLoop.append): parse with the negotiated parser,
 * look each series text up in the target's cache (labels are built, target-labelled, relabeled and checked
 * only on a miss), append with the cached ref, apply sample_limit and the label limits, and write stale
 * markers for series the previous scrape had and this one has not.
 *
 * The steady-state path per sample is: next(), seriesKey(), one Map lookup, value()/timestamp(), append().
 */
import { Entry, detachString, ExpositionError, parserFor, type ExpositionParser } from '../../exposition/index.js';
import type { Labels } from '../../model/labels.js';
import { STALE_NAN } from '../../model/value.js';
import { StorageError } from '../../storage/errors.js';
import type { Appender } from '../../storage/interface.js';
import type { NameValidationScheme, Relabeler } from '../relabel.js';
import type { CacheEntry, ScrapeCache, SeriesState } from './cache.js';
import { isLabelError, sampleLabels, type LabelLimits } from './labels.js';
import type { ScrapeMetrics } from './metrics.js';

export interface AppendSettings {
  readonly honorLabels: boolean;
  readonly honorTimestamps: boolean;
  readonly trackTimestampsStaleness: boolean;
  /** 0: no limit. */
  readonly sampleLimit: number;
  readonly limits: LabelLimits;
  readonly relabeler: Relabeler;
  readonly scheme: NameValidationScheme;
  /** Media type used when the response has no Content-Type ('' = the text format). */
  readonly fallbackContentType: string;
}

export interface AppendResult {
  /** Samples in the body (scrape_samples_scraped). */
  total: number;
  /** Samples left after metric relabeling (scrape_samples_post_metric_relabeling). */
  added: number;
  /** Series new to the cache (scrape_series_added). */
  seriesAdded: number;
  /** Why the scrape fails (parse error, limit); null when it succeeded. */
  err: string | null;
  sampleLimitHit: boolean;
  labelLimitHit: boolean;
  /** Samples the storage refused or that were out of bounds; skipped, not fatal. */
  outOfOrder: number;
  duplicates: number;
  outOfBounds: number;
}

/** Samples with timestamps further ahead than this are out of bounds (Prometheus's maxAheadTime). */
const MAX_AHEAD_MS = 10 * 60_000;
/** The event loop gets a turn when a scrape has been appending for this long. */
const YIELD_AFTER_MS = 10;

const yieldNow = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Errors the storage raises for single samples that a scrape skips (counted) rather than fails on. */
function sampleRejection(err: unknown): 'oo' | 'dup' | 'oob' | null {
  if (!(err instanceof StorageError)) return null;
  switch (err.kind) {
    case 'out_of_order':
      return 'oo';
    case 'duplicate_timestamp':
      return 'dup';
    case 'too_old':
    case 'too_far_in_future':
      return 'oob';
    default:
      return null;
  }
}

/** Appends a stale marker for each series of the previous scrape not seen in this one. Returns an error text or null. */
export function appendStaleMarkers(app: Appender, cache: ScrapeCache, t: number, metrics: ScrapeMetrics): string | null {
  const iter = cache.iter;
  for (const st of cache.prev) {
    if (st.seen === iter) continue;
    try {
      const ref = app.append(st.ref, st.labels, t, STALE_NAN);
      if (ref !== st.ref) cache.moveRef(st, ref);
      metrics.staleMarkers++;
    } catch (err) {
      // Expected when the target came back under a new loop that already wrote newer samples.
      if (sampleRejection(err) !== null) continue;
      return `appending stale markers: ${(err as Error).message}`;
    }
  }
  return null;
}

/** A scrape that yielded nothing to parse (failure, or an empty body): stale markers only, no flush. */
export function appendEmpty(app: Appender, cache: ScrapeCache, t: number, metrics: ScrapeMetrics): string | null {
  const err = appendStaleMarkers(app, cache, t, metrics);
  cache.iterDone(false);
  return err;
}

/**
 * Parses `body` and appends its samples at `defTime` (or their own timestamps under honor_timestamps).
 * On success the cache iteration is finished; on failure the caller rolls back, calls
 * `cache.forgetAttempt()` and then `appendEmpty` with a fresh appender.
 */
export async function appendScrape(
  app: Appender,
  cache: ScrapeCache,
  body: Uint8Array,
  contentType: string,
  defTime: number,
  target: Labels,
  s: AppendSettings,
  metrics: ScrapeMetrics,
): Promise<AppendResult> {
  const res: AppendResult = {
    total: 0,
    added: 0,
    seriesAdded: 0,
    err: null,
    sampleLimitHit: false,
    labelLimitHit: false,
    outOfOrder: 0,
    duplicates: 0,
    outOfBounds: 0,
  };
  if (body.length === 0) {
    res.err = appendEmpty(app, cache, defTime, metrics);
    return res;
  }
  let p: ExpositionParser;
  try {
    p = parserFor(contentType === '' && s.fallbackContentType !== '' ? s.fallbackContentType : contentType, body);
  } catch (err) {
    res.err = (err as Error).message;
    return res;
  }

  const iter = cache.iter;
  const series = cache.series;
  const order = cache.order;
  const honorTs = s.honorTimestamps;
  const trackTs = s.trackTimestampsStaleness;
  const limit = s.sampleLimit;
  const maxTime = defTime + MAX_AHEAD_MS;
  let counted = 0;
  let ok = 0;
  let outOfOrder = 0;
  let duplicates = 0;
  let outOfBounds = 0;
  let lastYield = performance.now();

  const metaOrder = cache.metaOrder;
  let metaPos = 0;

  try {
    for (;;) {
      // A target exposes its series in the same order scrape after scrape: the entry at the same position
      // in the last scrape is tried first, in place in the input (only value and timestamp are read when
      // the line starts with its text); when that fails the line is read in full.
      let ce: CacheEntry | undefined = order[res.total];
      let e: Entry;
      let matched = false;
      if (ce !== undefined && ce.plain && p.nextSeriesIfKey(ce.key)) {
        e = Entry.Series;
        matched = true;
      } else {
        e = p.next();
      }
      if (e !== Entry.Series) {
        if (e === Entry.EOF) break;
        if (e === Entry.Type || e === Entry.Help || e === Entry.Unit) {
          // Metadata lines too: unchanged ones are recognised in place, without making strings.
          const m = metaOrder[metaPos];
          const value = m === undefined ? '' : e === Entry.Type ? m.type : e === Entry.Help ? m.help : m.unit;
          if (m !== undefined && p.metadataIs(m.family, value)) m.lastIter = iter;
          else if (e === Entry.Type) metaOrder[metaPos] = cache.setMetadata(p.metricName(), 'type', p.type());
          else if (e === Entry.Help) metaOrder[metaPos] = cache.setMetadata(p.metricName(), 'help', p.help());
          else metaOrder[metaPos] = cache.setMetadata(p.metricName(), 'unit', p.unit());
          metaPos++;
        }
        continue;
      }
      const total = ++res.total;
      if ((total & 1023) === 0 && performance.now() - lastYield > YIELD_AFTER_MS) {
        await yieldNow();
        lastYield = performance.now();
      }
      const pt = honorTs ? p.timestamp() : null;
      const t = pt === null ? defTime : pt;
      // Not matched in place: compared once more (the line may differ only in blanks), and only then is
      // the text cut out for a Map lookup.
      const pos = total - 1;
      let key = '';
      if (!matched && (ce === undefined || !p.seriesKeyIs(ce.key))) {
        key = p.seriesKey();
        ce = series.get(key);
        if (ce !== undefined) order[pos] = ce;
      }
      let st: SeriesState;
      let cached: boolean;
      let repeated = false;
      if (ce !== undefined) {
        if (ce.lastIter === iter) repeated = true;
        else {
          ce.lastIter = iter;
          cache.touched++;
        }
        if (ce.st === null) continue; // dropped by metric relabeling
        st = ce.st;
        st.lastIter = iter;
        cached = true;
      } else {
        const ls = sampleLabels(p.labels(), target, s.honorLabels, s.relabeler, s.scheme, s.limits);
        if (ls === null) {
          const k = detachString(key);
          const entry: CacheEntry = { key: k, plain: k.indexOf('\n') < 0, st: null, lastIter: iter };
          series.set(k, entry);
          order[pos] = entry;
          cache.created.push(k);
          cache.touched++;
          continue;
        }
        if (isLabelError(ls)) {
          res.err = ls;
          res.labelLimitHit = ls.startsWith('label_');
          break;
        }
        st = { labels: ls, ref: 0, seen: -1, lastIter: iter };
        cached = false;
      }
      res.added++;
      if (repeated && pt === null) {
        duplicates++; // the same series twice in one scrape
        continue;
      }
      if (limit > 0 && ++counted > limit) {
        res.sampleLimitHit = true; // keep reading: the report counts every sample
        continue;
      }
      if (t > maxTime) {
        outOfBounds++;
        continue;
      }
      let ref: number;
      try {
        ref = app.append(st.ref, st.labels, t, p.value());
      } catch (err) {
        const kind = sampleRejection(err);
        if (kind === null) throw err;
        if (kind === 'oo') outOfOrder++;
        else if (kind === 'dup') duplicates++;
        else outOfBounds++;
        continue;
      }
      ok++;
      if (cached) {
        if (ref !== st.ref) cache.moveRef(st, ref);
      } else {
        st.ref = ref;
        st = cache.stateFor(st);
        st.lastIter = iter;
        const k = detachString(key);
        const entry: CacheEntry = { key: k, plain: k.indexOf('\n') < 0, st, lastIter: iter };
        series.set(k, entry);
        order[pos] = entry;
        cache.created.push(k);
        cache.createdStates.push(st);
        cache.touched++;
        if (!res.sampleLimitHit) res.seriesAdded++;
      }
      if (pt === null || trackTs) cache.track(st);
    }
  } catch (err) {
    res.err = err instanceof ExpositionError || err instanceof StorageError ? err.message : `appending: ${(err as Error).message}`;
  }

  res.outOfOrder = outOfOrder;
  res.duplicates = duplicates;
  res.outOfBounds = outOfBounds;
  metrics.outOfOrder += outOfOrder;
  metrics.duplicates += duplicates;
  metrics.outOfBounds += outOfBounds;
  if (res.err === null && res.sampleLimitHit) res.err = 'sample limit exceeded';
  if (res.err !== null) return res;
  metrics.samplesAppended += ok;
  res.err = appendStaleMarkers(app, cache, defTime, metrics);
  if (res.err === null) cache.iterDone(true);
  return res;
}
