/**
 * Publishing side of the Kafka bus: an idempotent producer with acks=all, so a send resolves
 * only once every in-sync replica has the records and a retried send cannot duplicate or
 * reorder them. Records are partitioned by key with murmur2 as the Java client does, so one
 * key always lands in one partition, also when Java producers write the topic. Publishes
 * larger than one request are split into requests sent one after the other, keeping their
 * order; a single record larger than the broker accepts fails with RECORD_UNSUPPORTED.
 */
import {
  ProduceAcks,
  Producer,
  compatibilityPartitioner,
  findErrorBy,
  stringSerializer,
} from '@platformatic/kafka';

import type { OutgoingRecord } from '../bus.ts';
import { AletheiaError } from '../errors.ts';
import { busPublishErrors, busRecordsPublished } from '../metrics.ts';
import type { ResolvedKafkaBusOptions } from './options.ts';
import { frame } from './wire-format.ts';

type BusProducer = Producer<string, Buffer, string, string>;

export class KafkaPublisher {
  private readonly producer: BusProducer;
  private readonly maxRequestBytes: number;

  constructor(options: ResolvedKafkaBusOptions) {
    this.maxRequestBytes = options.maxRequestBytes;
    this.producer = new Producer({
      clientId: options.clientId,
      bootstrapBrokers: options.brokers,
      timeout: options.requestTimeoutMs,
      retries: options.requestRetries,
      idempotent: true,
      acks: ProduceAcks.ALL,
      partitioner: compatibilityPartitioner,
      autocreateTopics: false,
      serializers: {
        key: stringSerializer,
        value: (value?: Buffer) => value,
        headerKey: stringSerializer,
        headerValue: stringSerializer,
      },
    });
  }

  /** Frames every value with the schema id and resolves once the broker acknowledged all. */
  async send(topic: string, schemaId: number, records: OutgoingRecord[]): Promise<void> {
    try {
      for (const chunk of this.requests(records)) {
        await this.producer.send({
          messages: chunk.map((record) => ({
            topic,
            key: record.key,
            value: frame(schemaId, record.value),
            headers: record.headers,
          })),
        });
        busRecordsPublished.inc({ topic }, chunk.length);
      }
    } catch (err) {
      const failure = publishError(topic, records.length, err);
      busPublishErrors.inc({ topic, code: failure.code });
      throw failure;
    }
  }

  async close(): Promise<void> {
    await this.producer.close(true);
  }

  /** Splits records into requests under the size limit, in their original order. */
  private *requests(records: OutgoingRecord[]): Generator<OutgoingRecord[]> {
    let chunk: OutgoingRecord[] = [];
    let bytes = 0;
    for (const record of records) {
      const size = record.value.length + Buffer.byteLength(record.key) + 64;
      if (chunk.length > 0 && bytes + size > this.maxRequestBytes) {
        yield chunk;
        chunk = [];
        bytes = 0;
      }
      chunk.push(record);
      bytes += size;
    }
    if (chunk.length > 0) yield chunk;
  }
}

function publishError(topic: string, count: number, err: unknown): AletheiaError {
  const reason = describeKafkaError(err);
  const brokerError = (apiId: string) => findErrorBy(err as Error, 'apiId', apiId) !== null;
  if (brokerError('MESSAGE_TOO_LARGE') || brokerError('RECORD_LIST_TOO_LARGE')) {
    return new AletheiaError(
      'RECORD_UNSUPPORTED',
      `publishing ${count} records to ${topic}: a record is larger than the broker accepts ` +
        `(message.max.bytes): ${reason}`,
      { cause: err },
    );
  }
  if (brokerError('UNKNOWN_TOPIC_OR_PARTITION')) {
    return new AletheiaError('CONFIG_INVALID', `publishing to unknown topic ${topic}: ${reason}`, {
      cause: err,
    });
  }

  return new AletheiaError(
    'BUS_UNAVAILABLE',
    `publishing ${count} records to ${topic}: ${reason}`,
    {
      cause: err,
    },
  );
}

/** The library nests the useful reason (connection refused, a broker error) in `errors`. */
export function describeKafkaError(err: unknown): string {
  const messages: string[] = [];
  const visit = (value: unknown, depth: number): void => {
    if (!(value instanceof Error) || depth > 3 || messages.length >= 3) return;
    if (!messages.includes(value.message)) messages.push(value.message);
    const nested = (value as Error & { errors?: unknown[] }).errors;
    if (Array.isArray(nested)) for (const inner of nested.slice(0, 2)) visit(inner, depth + 1);
    visit(value.cause, depth + 1);
  };
  visit(err, 0);

  return messages.join(': ') || String(err);
}
