/**
 * Content negotiation for scrapes: the Accept header a scraper sends, and the parser a response's
 * Content-Type selects (Prometheus's rule: `application/openmetrics-text` → OpenMetrics, anything else →
 * the text format).
 */
import { OpenMetricsParser } from './openmetrics.js';
import { TextParser } from './text.js';
import { ExpositionError, type ExpositionFormat, type ExpositionParser, type ParserOptions } from './types.js';

/** The Accept header Prometheus 2.x (2.42 included) sends on every scrape. */
export const SCRAPE_ACCEPT_HEADER =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,' +
  'text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

/** Prometheus 3's `scrape_protocols` values that Argus can parse (the protobuf format is not one). */
export type ScrapeProtocol = 'OpenMetricsText1.0.0' | 'OpenMetricsText0.0.1' | 'PrometheusText1.0.0' | 'PrometheusText0.0.4';

/** Prometheus 3's default `scrape_protocols`, in order of preference. */
export const DEFAULT_SCRAPE_PROTOCOLS: readonly ScrapeProtocol[] = [
  'OpenMetricsText1.0.0',
  'OpenMetricsText0.0.1',
  'PrometheusText1.0.0',
  'PrometheusText0.0.4',
];

const PROTOCOL_MEDIA: Record<ScrapeProtocol, string> = {
  'OpenMetricsText1.0.0': 'application/openmetrics-text;version=1.0.0',
  'OpenMetricsText0.0.1': 'application/openmetrics-text;version=0.0.1',
  'PrometheusText1.0.0': 'text/plain;version=1.0.0',
  'PrometheusText0.0.4': 'text/plain;version=0.0.4',
};

/** How a target should write names that are not legacy identifiers (Prometheus 3's `escaping` parameter). */
export type NameEscaping = 'allow-utf-8' | 'underscores' | 'dots' | 'values';

/**
 * The Accept header Prometheus 3 builds from `scrape_protocols`: weights falling from 0.(n+1) in the
 * order given, the escaping scheme on the 1.0.0 formats, and `*\/*` last. With the defaults:
 * `application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,…,*\/*;q=0.2`.
 */
export function scrapeAcceptHeader(
  protocols: readonly ScrapeProtocol[] = DEFAULT_SCRAPE_PROTOCOLS,
  escaping: NameEscaping = 'allow-utf-8',
): string {
  // Prometheus counts weights from the number of protocols it knows (five, protobuf included).
  let weight = 6;
  const out: string[] = [];
  for (const p of protocols) {
    let v = PROTOCOL_MEDIA[p];
    if (p === 'PrometheusText1.0.0' || p === 'OpenMetricsText1.0.0') v += `;escaping=${escaping}`;
    out.push(`${v};q=0.${weight}`);
    weight--;
  }
  out.push(`*/*;q=0.${weight}`);
  return out.join(',');
}

/**
 * The format a Content-Type selects. Like Prometheus 2.x, a missing or unparsable header, or any type
 * other than OpenMetrics, means the text format; the protobuf format (which Argus never asks for) is an
 * error rather than garbage parsed as text.
 */
export function formatForContentType(contentType: string | null | undefined): ExpositionFormat {
  const media = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (media === 'application/openmetrics-text') return 'openmetrics';
  if (media === 'application/vnd.google.protobuf') {
    throw new ExpositionError(`unsupported Content-Type ${JSON.stringify(contentType)}: the protobuf format is not supported`, 0);
  }
  return 'text';
}

/** A parser for a scrape response: the format chosen by its Content-Type, the body as bytes or text. */
export function parserFor(
  contentType: string | null | undefined,
  body: string | Uint8Array,
  opts: ParserOptions = {},
): ExpositionParser {
  return formatForContentType(contentType) === 'openmetrics' ? new OpenMetricsParser(body, opts) : new TextParser(body, opts);
}
