/**
 * The Kafka implementation of the bus contract (runtime/bus.ts), on @platformatic/kafka, with
 * record values in the Confluent wire format: Avro bodies prefixed with the registry id of
 * their schema, registered under `<topic>-value` with BACKWARD compatibility.
 *
 * - `ensureTopics` creates missing topics with the configured partitions, replication and
 *   retention, then registers each topic's schema; an incompatible schema change is refused
 *   by the registry and fails with SCHEMA_INCOMPATIBLE, so the process does not start.
 * - `publish` resolves once the broker acknowledged every record (acks=all, idempotent).
 * - `subscribe` joins a consumer group; see consumer.ts for batching, commits and rebalances.
 *   Values are handed over as Avro bodies of the topic's current schema; values the bus
 *   cannot read are handed over unchanged, for the handler to dead-letter (see wire-format.ts).
 *
 * Differences from the in-process bus: the log is the buffer, so publishers never wait for
 * consumers (retention bounds how far behind a group may fall); several subscriptions of one
 * group, in one process or many, share the partitions.
 */
import { Admin } from '@platformatic/kafka';

import type { BatchHandler, Bus, OutgoingRecord, SubscribeOptions, Subscription } from '../bus.ts';
import { AletheiaError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { KafkaSubscription } from './consumer.ts';
import {
  resolveKafkaBusOptions,
  type KafkaBusOptions,
  type ResolvedKafkaBusOptions,
} from './options.ts';
import { KafkaPublisher, describeKafkaError } from './producer.ts';
import { SchemaRegistryClient } from './schema-registry.ts';
import { TopicSchemas } from './topic-schemas.ts';
import { WireReader } from './wire-format.ts';

const healthTimeoutMs = 5_000;

export class KafkaBus implements Bus {
  readonly kind = 'kafka';
  private readonly options: ResolvedKafkaBusOptions;
  private readonly log: Logger;
  private readonly admin: Admin;
  private readonly publisher: KafkaPublisher;
  private readonly schemas: TopicSchemas;
  private readonly reader: WireReader;
  private readonly subscriptions = new Set<KafkaSubscription>();
  private readonly knownTopics = new Set<string>();
  private started = false;

  constructor(options: KafkaBusOptions) {
    this.options = resolveKafkaBusOptions(options);
    this.log = this.options.log.child({ component: 'kafka-bus' });
    this.admin = new Admin({
      clientId: this.options.clientId,
      bootstrapBrokers: this.options.brokers,
      timeout: this.options.requestTimeoutMs,
      retries: this.options.requestRetries,
    });
    this.publisher = new KafkaPublisher(this.options);
    const registry = new SchemaRegistryClient({
      url: this.options.schemaRegistryUrl,
      timeoutMs: this.options.registryTimeoutMs,
    });
    this.schemas = new TopicSchemas(registry, this.log);
    this.reader = new WireReader(this.schemas);
  }

  async start(): Promise<void> {
    try {
      await this.admin.metadata({ topics: [], forceUpdate: true });
    } catch (err) {
      throw new AletheiaError(
        'BUS_UNAVAILABLE',
        `connecting to Kafka at ${this.options.brokers.join(',')}: ${describeKafkaError(err)}`,
        { cause: err },
      );
    }
    this.started = true;
    this.log.info({ brokers: this.options.brokers }, 'kafka bus started');
  }

  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    this.subscriptions.clear();
    await Promise.allSettled([this.publisher.close(), this.admin.close()]);
    this.log.info('kafka bus stopped');
  }

  async ensureTopics(topics: string[]): Promise<void> {
    const missing = topics.filter((topic) => !this.knownTopics.has(topic));
    if (missing.length > 0) await this.createTopics(missing);

    // one at a time: a refused schema should name the first topic it concerns
    for (const topic of topics) await this.schemas.ensure(topic);
  }

  async publish(topic: string, records: OutgoingRecord[]): Promise<void> {
    if (!this.started) {
      throw new AletheiaError('COMPONENT_STOPPED', `publishing to ${topic}: bus stopped`);
    }
    if (!(await this.topicExists(topic))) {
      throw new AletheiaError('CONFIG_INVALID', `publishing to unknown topic ${topic}`);
    }
    if (records.length === 0) return;

    const schema = await this.schemas.ensure(topic);
    await this.publisher.send(topic, schema.id, records);
  }

  async subscribe(options: SubscribeOptions, handler: BatchHandler): Promise<Subscription> {
    if (!this.started) {
      throw new AletheiaError('COMPONENT_STOPPED', `subscribing ${options.group}: bus stopped`);
    }
    await this.ensureTopics(options.topics);

    const subscription = new KafkaSubscription(this.options, options, handler, this.reader);
    await subscription.open();
    this.subscriptions.add(subscription);

    return {
      close: async () => {
        await subscription.close();
        this.subscriptions.delete(subscription);
      },
    };
  }

  /** Whether a broker answers a metadata request. */
  async healthy(): Promise<boolean> {
    if (!this.started) return false;

    let timer: NodeJS.Timeout | undefined;
    const answered = this.admin.metadata({ topics: [], forceUpdate: true }).then(
      () => true,
      (err: unknown) => {
        this.log.warn({ reason: describeKafkaError(err) }, 'kafka brokers unreachable');

        return false;
      },
    );
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), healthTimeoutMs);
    });
    const ok = await Promise.race([answered, timedOut]);
    clearTimeout(timer);

    return ok;
  }

  private async createTopics(topics: string[]): Promise<void> {
    const { partitions, replicationFactor, retentionMs } = this.options.topicDefaults;
    const operation = `creating topics ${topics.join(', ')}`;
    try {
      const existing = new Set(await this.admin.listTopics());
      const missing = topics.filter((topic) => !existing.has(topic));
      if (missing.length > 0) {
        await this.admin.createTopics({
          topics: missing,
          partitions,
          replicas: replicationFactor,
          configs: [{ name: 'retention.ms', value: String(retentionMs) }],
        });
        this.log.info({ topics: missing, partitions, replicationFactor }, 'topics created');
      }
    } catch (err) {
      // another process may have created some of them in the meantime
      const existing = new Set(await this.admin.listTopics().catch(() => []));
      if (!topics.every((topic) => existing.has(topic))) {
        throw new AletheiaError('BUS_UNAVAILABLE', `${operation}: ${describeKafkaError(err)}`, {
          cause: err,
        });
      }
    }
    for (const topic of topics) this.knownTopics.add(topic);
  }

  private async topicExists(topic: string): Promise<boolean> {
    if (this.knownTopics.has(topic)) return true;

    let existing: string[];
    try {
      existing = await this.admin.listTopics();
    } catch (err) {
      throw new AletheiaError(
        'BUS_UNAVAILABLE',
        `listing topics before publishing to ${topic}: ${describeKafkaError(err)}`,
        { cause: err },
      );
    }
    if (!existing.includes(topic)) return false;
    this.knownTopics.add(topic);

    return true;
  }
}
