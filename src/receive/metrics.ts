/** Self-monitoring of the receive path (names like Mimir's, prefixed argus_receive_). */
import { Counter, type Registry } from 'prom-client';

export interface ReceiveMetrics {
  requests: Counter<'code'>;
  samples: Counter;
  dedupedSamples: Counter<'tenant'>;
  rejectedSamples: Counter<'reason'>;
  rejectedRequests: Counter<'reason'>;
  failovers: Counter<'tenant'>;
  gapFilled: Counter<'tenant'>;
}

export function createReceiveMetrics(registry: Registry): ReceiveMetrics {
  const registers = [registry];
  return {
    requests: new Counter({ name: 'argus_receive_requests_total', help: 'Remote-write requests by HTTP status code.', labelNames: ['code'], registers }),
    samples: new Counter({ name: 'argus_receive_samples_total', help: 'Samples stored (WAL-synced) by the receiver.', registers }),
    dedupedSamples: new Counter({
      name: 'argus_receive_samples_deduplicated_total',
      help: 'Samples from non-elected HA replicas, answered 202 and not stored.',
      labelNames: ['tenant'],
      registers,
    }),
    rejectedSamples: new Counter({
      name: 'argus_receive_samples_rejected_total',
      help: 'Samples not stored, by reason (invalid, rate_limited, wal_error).',
      labelNames: ['reason'],
      registers,
    }),
    rejectedRequests: new Counter({
      name: 'argus_receive_requests_rejected_total',
      help: 'Whole requests refused before decoding finished, by reason (malformed, too_large).',
      labelNames: ['reason'],
      registers,
    }),
    failovers: new Counter({
      name: 'argus_receive_ha_failovers_total',
      help: 'HA failovers this receiver performed (a new replica elected after the failover timeout).',
      labelNames: ['tenant'],
      registers,
    }),
    gapFilled: new Counter({
      name: 'argus_receive_ha_gap_filled_samples_total',
      help: "Samples stored at failovers from the new leader's buffer to fill the old leader's gap.",
      labelNames: ['tenant'],
      registers,
    }),
  };
}
