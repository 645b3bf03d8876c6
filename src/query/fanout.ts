/**
 * The read path of one tenant: head + local blocks + the store gateway's blocks of that tenant, as one
 * Querier (a merge: a series in several sources is one series, a sample in several sources comes once).
 *
 * Local blocks and bucket blocks hold the same data for a while (a block is shipped, then compacted in
 * the bucket, and deleted locally only later). A local block is left out of a query once the store serves
 * it, that is when its ULID is among the compaction sources of a raw block the store has loaded: after
 * compaction in the bucket the compacted block names the shipped ones as sources, so nothing is hidden
 * (the local copy stays until a bucket block covers it) and nothing is read twice. Both decisions are made
 * from one snapshot of the store's block list per call, so a store sync in between cannot open a gap.
 *
 * A bucket block belongs to the tenant named by its `tenant_id` external label (Thanos receive's label);
 * blocks without one (e.g. uploaded by a Thanos sidecar) belong to the default tenant.
 */
import type { Matcher } from '../model/matcher.js';
import { MergeQuerier } from '../storage/merge.js';
import type { LabelHints, Querier, Queryable, SelectHints, SeriesSet } from '../storage/interface.js';
import { BucketQuerier, type BucketBlock, type BucketQuerierOptions } from '../store/index.js';

/** What the HTTP app reads through: one Querier per tenant (null when the tenant has no data anywhere). */
export interface TenantStorage {
  querier(tenant: string): Querier | null;
  queryable(tenant: string): Queryable | null;
}

/** The local TSDB as the fan-out needs it (structurally `TSDB`). */
export interface LocalSource {
  querier(tenant: string, opts: { skipBlock?: (ulid: string) => boolean }): Querier | null;
}

/** The store gateway as the fan-out needs it (structurally `BucketStore`). */
export interface StoreSource {
  /** The blocks served now; a sync replaces the array, it never changes one in place. */
  blocks(): readonly BucketBlock[];
  readonly fetchBudgetBytes: number;
}

export interface FanoutOptions {
  local?: LocalSource;
  store?: StoreSource;
  /** The external label naming a bucket block's tenant (default `tenant_id`). */
  tenantLabel?: string;
  /** The tenant of bucket blocks without that label (default `anonymous`). */
  defaultTenant?: string;
  /** Passed to the store's querier (e.g. a fixed maximum resolution). */
  storeQuerier?: BucketQuerierOptions;
}

/** One tenant's part of a store snapshot. */
interface TenantBlocks {
  blocks: BucketBlock[];
  /** ULIDs of every source of the tenant's raw blocks: local blocks the store covers. */
  served: Set<string>;
}

const NONE: TenantBlocks = { blocks: [], served: new Set() };

export class FanoutStorage implements TenantStorage {
  private readonly tenantLabel: string;
  private readonly defaultTenant: string;
  /** Per store snapshot, its blocks split by tenant (rebuilt when the store's array changes). */
  private snapshot: { of: readonly BucketBlock[]; byTenant: Map<string, TenantBlocks> } | null = null;

  constructor(private readonly opts: FanoutOptions) {
    this.tenantLabel = opts.tenantLabel ?? 'tenant_id';
    this.defaultTenant = opts.defaultTenant ?? 'anonymous';
  }

  /** The tenant's bucket blocks and what they cover, from the store's current snapshot. */
  tenantBlocks(tenant: string): TenantBlocks {
    const store = this.opts.store;
    if (store === undefined) return NONE;
    const all = store.blocks();
    if (this.snapshot === null || this.snapshot.of !== all) this.snapshot = { of: all, byTenant: this.split(all) };
    return this.snapshot.byTenant.get(tenant) ?? NONE;
  }

  /** True when the store serves the data of local block `ulid` of `tenant` (so it may be deleted locally). */
  servedByStore(tenant: string, ulid: string): boolean {
    return this.tenantBlocks(tenant).served.has(ulid);
  }

  private split(all: readonly BucketBlock[]): Map<string, TenantBlocks> {
    const out = new Map<string, TenantBlocks>();
    for (const b of all) {
      const v = b.meta.thanos?.labels?.[this.tenantLabel];
      const tenant = typeof v === 'string' && v !== '' ? v : this.defaultTenant;
      let t = out.get(tenant);
      if (t === undefined) out.set(tenant, (t = { blocks: [], served: new Set() }));
      t.blocks.push(b); // stays sorted by minTime, as the store's list is
      if (b.resolution !== 0) continue;
      const sources = b.meta.compaction.sources;
      if (sources !== undefined && sources.length > 0) for (const s of sources) t.served.add(s);
      else t.served.add(b.ulid);
    }
    return out;
  }

  querier(tenant: string): Querier | null {
    if (this.opts.store === undefined) {
      // Local data only: the TSDB's own querier (null when the tenant never wrote here).
      return this.opts.local?.querier(tenant, {}) ?? null;
    }
    return new FanoutQuerier(this, tenant);
  }

  queryable(tenant: string): Queryable | null {
    const q = this.querier(tenant);
    if (q === null) return null;
    return { querier: () => q };
  }

  /** The merge for one call, from one snapshot of the store (null when there is nothing to read). */
  build(tenant: string): Querier | null {
    const { blocks, served } = this.tenantBlocks(tenant);
    const qs: Querier[] = [];
    if (blocks.length > 0) {
      const fixed = { blocks: () => blocks, fetchBudgetBytes: this.opts.store!.fetchBudgetBytes };
      qs.push(new BucketQuerier(fixed, this.opts.storeQuerier));
    }
    const local = this.opts.local?.querier(tenant, served.size > 0 ? { skipBlock: (u) => served.has(u) } : {});
    if (local) qs.push(local);
    if (qs.length === 0) return null;
    return qs.length === 1 ? qs[0]! : new MergeQuerier(qs);
  }
}

const EMPTY_SET: SeriesSet = { warnings: [], async *[Symbol.asyncIterator]() {} };

/** Builds the merge anew for each call, so that every select sees the blocks of that moment. */
class FanoutQuerier implements Querier {
  constructor(
    private readonly fanout: FanoutStorage,
    private readonly tenant: string,
  ) {}

  select(hints: SelectHints, matchers: readonly Matcher[]): SeriesSet {
    return this.fanout.build(this.tenant)?.select(hints, matchers) ?? EMPTY_SET;
  }

  async labelNames(hints: LabelHints, matchers: readonly Matcher[]): Promise<string[]> {
    return (await this.fanout.build(this.tenant)?.labelNames(hints, matchers)) ?? [];
  }

  async labelValues(name: string, hints: LabelHints, matchers: readonly Matcher[]): Promise<string[]> {
    return (await this.fanout.build(this.tenant)?.labelValues(name, hints, matchers)) ?? [];
  }
}
