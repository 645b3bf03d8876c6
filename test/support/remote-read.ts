/** Reads every sample of one metric from an Argus (or Prometheus) through remote read, as a real client does. */
import assert from 'node:assert/strict';
import { decodeReadResponse, encodeReadRequest, snappyCompress, snappyUncompress, type ReadSeries } from '../../src/codec/index.js';

export async function remoteReadMetric(url: string, name: string, endMs = 1e15): Promise<ReadSeries[]> {
  const req = encodeReadRequest({
    queries: [{ startMs: 0, endMs, matchers: [{ type: 0, name: '__name__', value: name }], hints: null }],
    acceptedResponseTypes: [0],
  });
  const res = await fetch(`${url}/api/v1/read`, {
    method: 'POST',
    body: snappyCompress(req),
    headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy', 'X-Prometheus-Remote-Read-Version': '0.1.0' },
  });
  assert.equal(res.status, 200, await res.clone().text());
  return decodeReadResponse(snappyUncompress(new Uint8Array(await res.arrayBuffer()), 1 << 30))[0]!;
}

/** The value of label `name` in a read series ('' when absent). */
export function labelOf(s: ReadSeries, name: string): string {
  for (let i = 0; i < s.labels.length; i += 2) if (s.labels[i] === name) return s.labels[i + 1]!;
  return '';
}
