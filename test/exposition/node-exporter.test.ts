// A real target: the Debian prometheus-node-exporter, fetched with the Accept headers Prometheus 2.x and
// 3.x send and with a plain text/plain one. Every line must be accounted for: each sample line becomes
// one series with the value written on it, each HELP/TYPE line one metadata entry, and every series
// belongs to its family. The parse speed is reported as a test diagnostic.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Entry, parserFor, SCRAPE_ACCEPT_HEADER, scrapeAcceptHeader } from '../../src/exposition/index.js';
import { getLabel } from '../../src/model/labels.js';
import { requirePeer, startNodeExporter } from '../support/peers.js';

function tokenValue(tok: string): number {
  return tok === '+Inf' ? Infinity : tok === '-Inf' ? -Infinity : Number(tok);
}

test('parses every line of a real node exporter /metrics', { timeout: 60_000 }, async (t) => {
  if (!requirePeer(t, 'node-exporter')) return;
  const ne = await startNodeExporter();
  try {
    for (const accept of [SCRAPE_ACCEPT_HEADER, scrapeAcceptHeader(), 'text/plain;version=0.0.4']) {
      const res = await fetch(`${ne.url}/metrics`, { headers: { Accept: accept } });
      assert.equal(res.status, 200);
      const body = new Uint8Array(await res.arrayBuffer());
      const contentType = res.headers.get('content-type');
      const lines = new TextDecoder().decode(body).split('\n');
      const sampleLines = lines.filter((l) => l !== '' && !l.startsWith('#')).length;
      const helpLines = lines.filter((l) => l.startsWith('# HELP ')).length;
      const typeLines = lines.filter((l) => l.startsWith('# TYPE ')).length;

      const p = parserFor(contentType, body);
      let series = 0;
      let helps = 0;
      let types = 0;
      let family = '';
      let familyType = '';
      for (let e = p.next(); e !== Entry.EOF; e = p.next()) {
        if (e === Entry.Help) helps++;
        else if (e === Entry.Type) {
          types++;
          family = p.metricName();
          familyType = p.type();
        } else if (e === Entry.Series) {
          series++;
          const line = lines[p.line() - 1]!;
          const key = p.seriesKey();
          assert.ok(line.startsWith(key), `line ${p.line()} starts with its series key`);
          const rest = line.slice(key.length).trim().split(/\s+/);
          assert.ok(Object.is(p.value(), tokenValue(rest[0]!)) || (Number.isNaN(p.value()) && rest[0] === 'NaN'), `value on line ${p.line()}`);
          const ls = p.labels();
          assert.equal(getLabel(ls, '__name__'), line.split(/[{ ]/, 1)[0]);
          // Every node exporter sample belongs to the family its TYPE line declared.
          assert.equal(p.familyName(), family, line);
          assert.equal(p.type(), familyType, line);
        }
      }
      assert.equal(series, sampleLines, `${accept}: one series per sample line`);
      assert.equal(helps, helpLines);
      assert.equal(types, typeLines);
      assert.ok(series > 100, `node exporter exposes hundreds of series (got ${series})`);
      t.diagnostic(`Accept ${accept.slice(0, 40)}… → ${contentType}: ${series} series, ${helps} HELP, ${types} TYPE`);

      // Speed: the cursor the way a scrape loop with a warm cache uses it (key, value, timestamp), from the
      // response bytes; the best of several batches after a warm-up, as the machine may be shared.
      const batch = (rounds: number): number => {
        const t0 = process.hrtime.bigint();
        let n = 0;
        for (let r = 0; r < rounds; r++) {
          const q = parserFor(contentType, body);
          for (let e = q.next(); e !== Entry.EOF; e = q.next()) {
            if (e === Entry.Series) {
              n++;
              q.seriesKey();
              q.value();
              q.timestamp();
            }
          }
        }
        return Number(process.hrtime.bigint() - t0) / n;
      };
      batch(100);
      const rounds = 20;
      let ns = Infinity;
      for (let i = 0; i < 20; i++) ns = Math.min(ns, batch(rounds));
      t.diagnostic(`parse speed: ${ns.toFixed(0)} ns per sample (${body.length} bytes, ${series} samples)`);
    }
  } finally {
    await ne.stop();
  }
});
