/**
 * File-based service discovery (`file_sd_configs`), as Prometheus's discovery/file: every path pattern is
 * globbed, each JSON/YAML file read into target groups labelled `__meta_filepath`. Changes are noticed
 * through fs.watch on the patterns' directories, with `refresh_interval` as the fallback (watches miss
 * events on some filesystems, and a directory that does not exist yet cannot be watched).
 *
 * A file that cannot be read or parsed keeps the targets it had at its last good read, and the error is
 * logged naming the file: a half-written file must not make every target vanish.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import { globFiles } from '../../config/prometheus-files.js';
import type { FileSdConfig } from '../../config/prometheus-types.js';
import { labelsFromObject, labelsToObject } from '../../model/labels.js';
import type { Logger } from '../../util/log.js';
import { parseTargetGroups, TargetGroupError, type TargetGroup } from './targetgroup.js';

export const FILEPATH_LABEL = '__meta_filepath';

/** Something that finds target groups and reports the whole current set whenever it changes. */
export interface Discoverer {
  /** Resolves after the first discovery round has been reported. */
  start(onUpdate: (groups: readonly TargetGroup[]) => void): Promise<void>;
  stop(): void;
}

/** A fixed set of groups (static_configs). */
export class StaticDiscovery implements Discoverer {
  constructor(private readonly groups: readonly TargetGroup[]) {}
  async start(onUpdate: (groups: readonly TargetGroup[]) => void): Promise<void> {
    onUpdate(this.groups);
  }
  stop(): void {}
}

export interface FileDiscoveryStats {
  /** Files read successfully. */
  reads: number;
  /** Files that could not be read or parsed. */
  readErrors: number;
  /** Refreshes (initial, watch-triggered and periodic). */
  refreshes: number;
}

/** Events arriving within this window cause one refresh (editors write a file in several steps). */
const WATCH_DEBOUNCE_MS = 50;

export class FileDiscovery implements Discoverer {
  readonly stats: FileDiscoveryStats = { reads: 0, readErrors: 0, refreshes: 0 };
  private readonly watchers = new Map<string, FSWatcher>();
  /** The groups of each file at its last good read. */
  private readonly lastGood = new Map<string, TargetGroup[]>();
  private onUpdate: ((groups: readonly TargetGroup[]) => void) | null = null;
  private lastReported: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;

  constructor(
    private readonly cfg: FileSdConfig,
    private readonly logger: Logger,
    /** Shared counters (the scrape manager's metrics) that read errors are added to. */
    private readonly counters?: { fileSdReadErrors: number },
  ) {}

  async start(onUpdate: (groups: readonly TargetGroup[]) => void): Promise<void> {
    this.onUpdate = onUpdate;
    await this.refresh();
    if (this.stopped) return;
    const every = Math.min(Math.max(this.cfg.refresh_interval, 1), 2 ** 31 - 1);
    this.timer = setInterval(() => void this.refresh(), every);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    this.timer = this.debounce = null;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    this.onUpdate = null;
  }

  /** Reads every matching file and reports the groups if they changed. Concurrent calls coalesce. */
  refresh(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.refreshOnce();
        } while (this.again && !this.stopped);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async refreshOnce(): Promise<void> {
    if (this.stopped) return;
    this.stats.refreshes++;
    const files: string[] = [];
    for (const pattern of this.cfg.files) {
      try {
        for (const f of await globFiles(pattern)) if (!files.includes(f)) files.push(f);
      } catch (err) {
        this.logger.error('file_sd: cannot expand the pattern; its files are skipped this round', { glob: pattern, err: (err as Error).message });
      }
    }
    const seen = new Set<string>();
    for (const file of files) {
      seen.add(file);
      try {
        this.lastGood.set(file, await readGroups(file));
        this.stats.reads++;
      } catch (err) {
        this.stats.readErrors++;
        if (this.counters) this.counters.fileSdReadErrors++;
        const kept = this.lastGood.get(file)?.reduce((n, g) => n + g.targets.length, 0) ?? 0;
        this.logger.error('file_sd: cannot read the file; keeping the targets of its last good read', {
          path: file,
          err: (err as Error).message,
          kept_targets: kept,
        });
      }
    }
    // Files that no longer exist (or no longer match) take their targets with them.
    for (const file of [...this.lastGood.keys()]) if (!seen.has(file)) this.lastGood.delete(file);
    if (this.stopped) return;
    this.watchDirs();
    const groups = [...this.lastGood.keys()].sort().flatMap((f) => this.lastGood.get(f)!);
    const text = JSON.stringify(groups);
    if (text !== this.lastReported) {
      this.lastReported = text;
      this.onUpdate?.(groups);
    }
  }

  /** Watches the directory of every pattern (retried each refresh: a directory may appear later). */
  private watchDirs(): void {
    for (const pattern of this.cfg.files) {
      const dir = dirname(pattern);
      if (this.watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, () => this.changed());
        w.on('error', (err) => {
          this.logger.warn('file_sd: watching the directory failed; relying on refresh_interval until the next refresh', { dir, err: err.message });
          w.close();
          this.watchers.delete(dir);
        });
        this.watchers.set(dir, w);
      } catch (err) {
        this.logger.debug('file_sd: cannot watch the directory; relying on refresh_interval', { dir, err: (err as Error).message });
      }
    }
  }

  private changed(): void {
    if (this.stopped || this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = null;
      void this.refresh();
    }, WATCH_DEBOUNCE_MS);
    this.debounce.unref();
  }
}

/** One file's groups, each labelled with the file's path. Throws an Error naming the file. */
export async function readGroups(file: string): Promise<TargetGroup[]> {
  const ext = extname(file).toLowerCase();
  const format = ext === '.json' ? 'json' : ext === '.yml' || ext === '.yaml' ? 'yaml' : null;
  if (format === null) throw new TargetGroupError(`${file}: unsupported file extension ${JSON.stringify(ext)} (want .json, .yml or .yaml)`);
  const content = await readFile(file, 'utf8');
  return parseTargetGroups(content, format, file).map((g) => ({
    ...g,
    labels: labelsFromObject({ ...labelsToObject(g.labels), [FILEPATH_LABEL]: file }),
  }));
}
