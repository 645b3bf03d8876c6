/** Prometheus durations (`1h30m`, `5m`, `250ms`, `2d`, `1w`, `1y`) in milliseconds. */

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

const DURATION_RE = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const ORDER = ['y', 'w', 'd', 'h', 'm', 's', 'ms'] as const;

/** Parses a Prometheus duration; throws an Error naming the bad text. `0` is accepted. */
export function parseDuration(text: string): number {
  if (text === '0') return 0;
  const m = DURATION_RE.exec(text);
  if (text === '' || !m || m.slice(1).every((x) => x === undefined)) {
    throw new Error(`not a valid duration string: ${JSON.stringify(text)}`);
  }
  let ms = 0;
  for (let i = 0; i < ORDER.length; i++) {
    const part = m[i + 1];
    if (part !== undefined) ms += Number(part) * UNIT_MS[ORDER[i]!]!;
  }
  if (!Number.isSafeInteger(ms)) throw new Error(`duration out of range: ${JSON.stringify(text)}`);
  return ms;
}

/** Formats milliseconds the way Prometheus prints durations (`1h30m`, `0s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let out = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  for (const unit of ORDER) {
    const size = UNIT_MS[unit]!;
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out;
}
