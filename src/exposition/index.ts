/**
 * Exposition formats: parsers for the Prometheus text format (0.0.4 / 1.0.0) and OpenMetrics 1.0 text,
 * content negotiation for scrapes, and a text-format writer.
 *
 * Parsing is a pull cursor without an object per sample:
 *
 *   const p = parserFor(res.headers['content-type'], body);   // body: Buffer/Uint8Array or string
 *   for (let e = p.next(); e !== Entry.EOF; e = p.next()) {
 *     if (e !== Entry.Series) continue;                         // Type/Help/Unit/Comment: metadata
 *     const key = p.seriesKey();                                // cache lookup; labels() only on a miss
 *     append(key, p.value(), p.timestamp() ?? scrapeTime);
 *   }
 *
 * Every problem is an ExpositionError naming the line; an OpenMetrics body is only complete once next()
 * returned EOF (the `# EOF` line), so a scrape must not commit before that.
 */
export { Entry, entryName, ExpositionError } from './types.js';
export type { Exemplar, ExpositionFormat, ExpositionParser, MetricType, ParserOptions } from './types.js';
export { TextParser } from './text.js';
export { OpenMetricsParser } from './openmetrics.js';
export {
  DEFAULT_SCRAPE_PROTOCOLS,
  formatForContentType,
  parserFor,
  SCRAPE_ACCEPT_HEADER,
  scrapeAcceptHeader,
} from './negotiate.js';
export type { NameEscaping, ScrapeProtocol } from './negotiate.js';
export { escapeLabelValue, TEXT_CONTENT_TYPE, TextFormatWriter, writeTextFormat } from './writer.js';
export type { FamilySample, MetricFamily } from './writer.js';
export { collectEntries } from './collect.js';
export type { ParsedEntry } from './collect.js';
export { belongsToFamily } from './base.js';
export { detachString, formatGoFloat, formatOpenMetricsFloat } from './lex.js';
