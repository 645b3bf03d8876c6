/**
 * Per-target scrape cache (Prometheus's scrapeCache): maps each exposed series text to its final labels
 * and storage ref, so a steady-state scrape neither builds labels nor relabels nor hashes a label set; and
 * tracks which series the previous scrape had, for staleness markers.
 *
 * Several texts can name one series (different label order, metric relabeling folding series together),
 * so labels and refs live in a `SeriesState` shared by those entries; staleness is decided per state.
 */
import { labelsEqual, type Labels } from '../../model/labels.js';
import type { SeriesRef } from '../../storage/interface.js';
import type { MetricType } from '../../exposition/index.js';

export interface SeriesState {
  readonly labels: Labels;
  ref: SeriesRef;
  /** Scrape iteration in which a sample of this series was appended without an explicit timestamp. */
  seen: number;
  /** Last iteration any entry pointing here was scraped. */
  lastIter: number;
}

export interface CacheEntry {
  /** The series text (the key of `ScrapeCache.series`). */
  readonly key: string;
  /** The key holds no line break: the parser may match it in place (ExpositionParser.nextSeriesIfKey). */
  readonly plain: boolean;
  /** null: the series is dropped by metric relabeling. */
  readonly st: SeriesState | null;
  lastIter: number;
}

export interface MetadataEntry {
  readonly family: string;
  type: MetricType;
  help: string;
  unit: string;
  lastIter: number;
}

/** Metadata of a family disappears this many scrapes after it was last exposed (as Prometheus). */
const METADATA_KEEP_ITERS = 10;

export class ScrapeCache {
  /** Current scrape iteration. */
  iter = 0;
  readonly series = new Map<string, CacheEntry>();
  /**
   * The entry at each position of the last scrape. Targets expose their series in the same order scrape
   * after scrape, so comparing the text with the entry at the same position usually finds it without
   * hashing the text for a Map lookup (a third of the per-sample cost otherwise).
   */
  readonly order: CacheEntry[] = [];
  /** Series states by storage ref (refs identify series; texts may not). */
  readonly states = new Map<SeriesRef, SeriesState>();
  /** Entries touched in the current iteration; when it equals `series.size` nothing can be flushed. */
  touched = 0;
  /** Series tracked for staleness in this and the previous scrape. */
  cur: SeriesState[] = [];
  prev: SeriesState[] = [];
  readonly metadata = new Map<string, MetadataEntry>();
  /** The metadata entry of each HELP/TYPE/UNIT line of the last scrape, by position (as `order`). */
  readonly metaOrder: MetadataEntry[] = [];
  /** Cache size after the last successful scrape (for the forced flush of caches that keep growing). */
  private successfulCount = 0;
  /** Entries and states created by the scrape in progress (undone when it fails). */
  readonly created: string[] = [];
  readonly createdStates: SeriesState[] = [];
  /** Forced flushes (the cache doubled over failing scrapes). */
  forcedFlushes = 0;

  /**
   * The state for a new series once the storage named its ref: texts that turn out to be one series share
   * one state. A ref the storage gave to different labels is not trusted for that.
   */
  stateFor(st: SeriesState): SeriesState {
    if (st.ref === 0) return st;
    const known = this.states.get(st.ref);
    if (known === undefined) {
      this.states.set(st.ref, st);
      return st;
    }
    return labelsEqual(known.labels, st.labels) ? known : st;
  }

  /** The storage gave a series a new ref (it was garbage-collected and re-created). */
  moveRef(st: SeriesState, ref: SeriesRef): void {
    if (st.ref !== 0 && this.states.get(st.ref) === st) this.states.delete(st.ref);
    st.ref = ref;
    if (ref !== 0 && !this.states.has(ref)) this.states.set(ref, st);
  }

  /** Records that `st` was appended without explicit timestamp in this scrape. */
  track(st: SeriesState): void {
    if (st.seen !== this.iter) {
      st.seen = this.iter;
      this.cur.push(st);
    }
  }

  /** Undoes what a failed scrape recorded: its new entries and the series it tracked. */
  forgetAttempt(): void {
    if (this.created.length > 0) this.order.length = 0;
    for (const k of this.created) this.series.delete(k);
    for (const st of this.createdStates) if (this.states.get(st.ref) === st) this.states.delete(st.ref);
    for (const st of this.cur) st.seen = -1;
    this.cur.length = 0;
    this.created.length = 0;
    this.createdStates.length = 0;
  }

  /**
   * Ends a scrape iteration. `flush` (after a successful scrape) drops entries the scrape did not see;
   * a cache that doubled since the last success is flushed anyway, so failing scrapes cannot grow it forever.
   */
  iterDone(flush: boolean): void {
    const count = this.series.size + this.metadata.size;
    if (flush) this.successfulCount = count;
    else if (count > this.successfulCount * 2 + 1000) {
      flush = true;
      this.forcedFlushes++;
    }
    if (flush) {
      const iter = this.iter;
      if (this.touched < this.series.size) {
        this.order.length = 0; // may hold entries about to be deleted
        for (const [k, e] of this.series) if (e.lastIter !== iter) this.series.delete(k);
        for (const [ref, st] of this.states) if (st.lastIter !== iter) this.states.delete(ref);
      }
      for (const [name, m] of this.metadata) {
        if (iter - m.lastIter > METADATA_KEEP_ITERS) {
          this.metadata.delete(name);
          this.metaOrder.length = 0;
        }
      }
    }
    const p = this.prev;
    this.prev = this.cur;
    this.cur = p;
    this.cur.length = 0;
    this.created.length = 0;
    this.createdStates.length = 0;
    this.touched = 0;
    this.iter++;
  }

  /** Records a HELP/TYPE/UNIT line; returns the family's entry. */
  setMetadata(family: string, kind: 'type' | 'help' | 'unit', value: string): MetadataEntry {
    let m = this.metadata.get(family);
    if (m === undefined) {
      m = { family, type: 'unknown', help: '', unit: '', lastIter: this.iter };
      this.metadata.set(family, m);
    }
    if (kind === 'type') m.type = value as MetricType;
    else if (kind === 'help') m.help = value;
    else m.unit = value;
    m.lastIter = this.iter;
    return m;
  }
}
