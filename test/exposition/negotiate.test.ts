// Content negotiation: the Accept headers Prometheus sends and the parser a Content-Type selects.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_SCRAPE_PROTOCOLS,
  Entry,
  ExpositionError,
  formatForContentType,
  OpenMetricsParser,
  parserFor,
  SCRAPE_ACCEPT_HEADER,
  scrapeAcceptHeader,
  TextParser,
} from '../../src/exposition/index.js';

describe('negotiation', () => {
  it('the Accept header of Prometheus 2.x', () => {
    assert.equal(
      SCRAPE_ACCEPT_HEADER,
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
    );
  });

  it('the Accept header of Prometheus 3.x from scrape_protocols', () => {
    assert.deepEqual(DEFAULT_SCRAPE_PROTOCOLS, ['OpenMetricsText1.0.0', 'OpenMetricsText0.0.1', 'PrometheusText1.0.0', 'PrometheusText0.0.4']);
    assert.equal(
      scrapeAcceptHeader(),
      'application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,' +
        'text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2',
    );
    assert.equal(scrapeAcceptHeader(['PrometheusText0.0.4'], 'underscores'), 'text/plain;version=0.0.4;q=0.6,*/*;q=0.5');
  });

  it('Content-Type selects the parser', () => {
    const om: (string | null | undefined)[] = [
      'application/openmetrics-text; version=1.0.0; charset=utf-8',
      'application/openmetrics-text;version=0.0.1',
      'Application/OpenMetrics-Text',
    ];
    for (const ct of om) assert.equal(formatForContentType(ct), 'openmetrics', String(ct));
    const text: (string | null | undefined)[] = ['text/plain; version=0.0.4; charset=utf-8', 'text/plain;version=1.0.0;escaping=allow-utf-8', 'text/html', '', null, undefined, ';;;'];
    for (const ct of text) assert.equal(formatForContentType(ct), 'text', String(ct));
    assert.throws(() => formatForContentType('application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited'), ExpositionError);
  });

  it('parserFor gives a cursor over bytes or text', () => {
    const om = parserFor('application/openmetrics-text; version=1.0.0', new TextEncoder().encode('a 1\n# EOF\n'));
    assert.ok(om instanceof OpenMetricsParser);
    assert.equal(om.format, 'openmetrics');
    assert.equal(om.next(), Entry.Series);
    assert.equal(om.next(), Entry.EOF);
    const text = parserFor('text/plain', 'a 1\n');
    assert.ok(text instanceof TextParser);
    assert.equal(text.next(), Entry.Series);
    assert.equal(text.next(), Entry.EOF);
  });
});
