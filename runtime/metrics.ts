/**
 * Pipeline metrics, in Prometheus' model. Every stage counts what it received, what it sent
 * on, what it dead-lettered and what it dropped on purpose (duplicates), so an operator can
 * tell where records went.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const recordsIn = new Counter({
  name: 'aletheia_records_in_total',
  help: 'Records a stage received.',
  labelNames: ['stage'],
  registers: [registry],
});

export const recordsOut = new Counter({
  name: 'aletheia_records_out_total',
  help: 'Records a stage passed on or stored.',
  labelNames: ['stage'],
  registers: [registry],
});

export const recordsDeadLettered = new Counter({
  name: 'aletheia_records_dead_lettered_total',
  help: 'Records a stage could not handle and sent to its dead-letter topic.',
  labelNames: ['stage', 'code'],
  registers: [registry],
});

export const recordsDropped = new Counter({
  name: 'aletheia_records_dropped_total',
  help: 'Records a stage dropped on purpose, by reason (duplicate, unchanged, ...).',
  labelNames: ['stage', 'reason'],
  registers: [registry],
});

export const sourceErrors = new Counter({
  name: 'aletheia_source_errors_total',
  help: 'Failed fetches of a source, by error code.',
  labelNames: ['source', 'code'],
  registers: [registry],
});

export const batchSeconds = new Histogram({
  name: 'aletheia_batch_duration_seconds',
  help: 'Time a stage spent on one batch.',
  labelNames: ['stage'],
  buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 2, 10],
  registers: [registry],
});

export const consumerLag = new Gauge({
  name: 'aletheia_consumer_lag',
  help:
    'Records a consumer group still has to acknowledge in a partition ' +
    '(high watermark minus committed offset).',
  labelNames: ['group', 'topic', 'partition'],
  registers: [registry],
});

export const busRecordsPublished = new Counter({
  name: 'aletheia_bus_records_published_total',
  help: 'Records the bus published and the broker acknowledged, by topic.',
  labelNames: ['topic'],
  registers: [registry],
});

export const busPublishErrors = new Counter({
  name: 'aletheia_bus_publish_errors_total',
  help: 'Publish calls that failed, by topic and error code.',
  labelNames: ['topic', 'code'],
  registers: [registry],
});

export const busRecordsDelivered = new Counter({
  name: 'aletheia_bus_records_delivered_total',
  help: 'Records handed to subscription handlers, redeliveries included.',
  labelNames: ['group', 'topic'],
  registers: [registry],
});

export const busBatchesFailed = new Counter({
  name: 'aletheia_bus_batches_failed_total',
  help: 'Batches whose handler threw and that will be delivered again.',
  labelNames: ['group', 'topic'],
  registers: [registry],
});

export const busCommitErrors = new Counter({
  name: 'aletheia_bus_commit_errors_total',
  help: 'Failed offset commits of a consumer group (retried on the next commit).',
  labelNames: ['group'],
  registers: [registry],
});

export const busRecordsPassedThrough = new Counter({
  name: 'aletheia_bus_records_passed_through_total',
  help: 'Records delivered with their bytes unchanged because their wire format could not be read.',
  labelNames: ['topic', 'reason'],
  registers: [registry],
});
