/**
 * In-memory postings: for every label name and value, the sorted list of series refs that carry it.
 * Refs are handed out in increasing order, so appending keeps every list sorted without a sort.
 */
import type { Matcher } from '../../model/matcher.js';

/** A growable sorted list of uint32 refs. */
export class PostingList {
  private data = new Uint32Array(4);
  length = 0;

  add(ref: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    // Refs arrive in increasing order except during WAL replay of out-of-order series records.
    if (this.length > 0 && this.data[this.length - 1]! >= ref) {
      this.insertSorted(ref);
      return;
    }
    this.data[this.length++] = ref;
  }

  private insertSorted(ref: number): void {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.data[mid]! < ref) lo = mid + 1;
      else hi = mid;
    }
    if (this.data[lo] === ref && lo < this.length) return;
    this.data.copyWithin(lo + 1, lo, this.length);
    this.data[lo] = ref;
    this.length++;
  }

  view(): Uint32Array {
    return this.data.subarray(0, this.length);
  }

  /** Removes every ref in `refs` in one pass (head truncation drops series in batches). */
  removeAll(refs: ReadonlySet<number>): void {
    let n = 0;
    for (let i = 0; i < this.length; i++) {
      const r = this.data[i]!;
      if (!refs.has(r)) this.data[n++] = r;
    }
    this.length = n;
  }
}

export class MemPostings {
  private readonly byName = new Map<string, Map<string, PostingList>>();
  private readonly all = new PostingList();

  add(ref: number, labels: readonly string[]): void {
    this.all.add(ref);
    for (let i = 0; i < labels.length; i += 2) {
      const name = labels[i]!;
      let values = this.byName.get(name);
      if (values === undefined) {
        values = new Map();
        this.byName.set(name, values);
      }
      let list = values.get(labels[i + 1]!);
      if (list === undefined) {
        list = new PostingList();
        values.set(labels[i + 1]!, list);
      }
      list.add(ref);
    }
  }

  /** Forgets the series `refs` (with their `labels`); empty value lists and names disappear. */
  delete(refs: ReadonlySet<number>, labels: readonly (readonly string[])[]): void {
    if (refs.size === 0) return;
    this.all.removeAll(refs);
    const touched = new Set<PostingList>();
    for (const ls of labels) {
      for (let i = 0; i < ls.length; i += 2) {
        const values = this.byName.get(ls[i]!);
        const list = values?.get(ls[i + 1]!);
        if (list === undefined || touched.has(list)) continue;
        touched.add(list);
        list.removeAll(refs);
        if (list.length === 0) {
          values!.delete(ls[i + 1]!);
          if (values!.size === 0) this.byName.delete(ls[i]!);
        }
      }
    }
  }

  allPostings(): Uint32Array {
    return this.all.view();
  }

  labelNames(): string[] {
    return [...this.byName.keys()];
  }

  labelValues(name: string): string[] {
    const values = this.byName.get(name);
    return values ? [...values.keys()] : [];
  }

  get(name: string, value: string): Uint32Array {
    return this.byName.get(name)?.get(value)?.view() ?? EMPTY;
  }

  /** Union of the postings of every value of `name` for which `pred` holds. */
  private unionWhere(name: string, pred: (v: string) => boolean): Uint32Array {
    const values = this.byName.get(name);
    if (!values) return EMPTY;
    const lists: Uint32Array[] = [];
    for (const [v, list] of values) if (pred(v)) lists.push(list.view());
    return unionAll(lists);
  }

  /**
   * Refs of series matching every matcher. Matchers that do not match the empty string select the
   * union of their matching values; those that do (e.g. `a!="x"`, `a=~".*"`) can also select series
   * without the label, so they subtract the values they reject instead.
   */
  select(matchers: readonly Matcher[]): Uint32Array {
    let result: Uint32Array | null = null;
    for (const m of matchers) {
      if (m.matchesEmpty()) continue;
      const set = m.type === 0 /* Equal */ ? this.get(m.name, m.value) : this.unionWhere(m.name, (v) => m.matches(v));
      result = result === null ? set : intersect(result, set);
      if (result.length === 0) return EMPTY;
    }
    if (result === null) result = this.all.view();
    for (const m of matchers) {
      if (!m.matchesEmpty()) continue;
      const rejected = this.unionWhere(m.name, (v) => !m.matches(v));
      if (rejected.length > 0) result = subtract(result, rejected);
    }
    return result;
  }
}

const EMPTY = new Uint32Array(0);

export function intersect(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(Math.min(a.length, b.length));
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x === y) {
      out[n++] = x;
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return out.subarray(0, n);
}

export function subtract(a: Uint32Array, b: Uint32Array): Uint32Array {
  const out = new Uint32Array(a.length);
  let j = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    while (j < b.length && b[j]! < x) j++;
    if (j < b.length && b[j] === x) continue;
    out[n++] = x;
  }
  return out.subarray(0, n);
}

export function unionAll(lists: Uint32Array[]): Uint32Array {
  if (lists.length === 0) return EMPTY;
  if (lists.length === 1) return lists[0]!;
  let total = 0;
  for (const l of lists) total += l.length;
  const all = new Uint32Array(total);
  let off = 0;
  for (const l of lists) {
    all.set(l, off);
    off += l.length;
  }
  all.sort();
  let n = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) all[n++] = all[i]!;
  return all.subarray(0, n);
}
