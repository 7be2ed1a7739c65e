/**
 * A subscription of the Kafka bus: one consumer group member fetching its assigned partitions
 * and handing batches of one partition at a time to the handler (at most
 * `maxInFlightBatches` per partition). Offsets are committed only for acknowledged batches:
 * per partition, the end of the longest run of acknowledged batches (see partition-work.ts),
 * every `commitIntervalMs`, when partitions are revoked and on close. A failed batch is
 * delivered again after a backoff, never skipped. Delivery is at-least-once: after a crash or
 * a rebalance, records not yet committed are delivered again, to whichever member owns them.
 *
 * Rebalances: the client rejoins the group on its own, without waiting for the handler, so
 * when a partition is revoked its in-flight batches are given `revokeTimeoutMs` to finish and
 * their acknowledged offsets are committed; the new owner may already have started from the
 * previous commit, so records around a rebalance can be delivered twice. After every
 * assignment a fresh fetch stream starts from the committed offsets, so records fetched for
 * the previous assignment never reach the handler; for partitions kept, records already held
 * are recognised by offset and not delivered twice.
 *
 * Limits: the classic group protocol (eager rebalancing) is used; fetching pauses for the
 * whole subscription when `maxBufferedRecords` are waiting, so one slow partition slows the
 * others down once the buffer is full.
 */
import {
  Consumer,
  stringDeserializer,
  type Message,
  type MessagesStream,
} from '@platformatic/kafka';

import {
  redeliveryDelayMs,
  type BatchHandler,
  type Delivery,
  type SubscribeOptions,
} from '../bus.ts';
import { AletheiaError } from '../errors.ts';
import { sleep, backoffMs } from '../lifecycle.ts';
import type { Logger } from '../log.ts';
import { busBatchesFailed, busRecordsDelivered } from '../metrics.ts';
import { OffsetCommitter, withTimeout } from './commits.ts';
import { LagMonitor } from './lag.ts';
import type { ResolvedKafkaBusOptions } from './options.ts';
import { PartitionWork, type Batch } from './partition-work.ts';
import { describeKafkaError } from './producer.ts';
import type { WireReader } from './wire-format.ts';

type BusConsumer = Consumer<string, Buffer, string, string>;
type BusStream = MessagesStream<string, Buffer, string, string>;
type BusMessage = Message<string, Buffer, string, string>;

const partitionKey = (topic: string, partition: number): string => `${topic}:${partition}`;

export class KafkaSubscription {
  readonly group: string;
  private readonly options: ResolvedKafkaBusOptions;
  private readonly subscribe: Required<SubscribeOptions>;
  private readonly handler: BatchHandler;
  private readonly reader: WireReader;
  private readonly log: Logger;
  private readonly consumer: BusConsumer;
  private readonly lag: LagMonitor;
  private readonly commits: OffsetCommitter;
  private readonly works = new Map<string, PartitionWork>();
  /** Revoked partitions whose last batches are finishing; their offsets still get committed. */
  private readonly draining = new Set<PartitionWork>();
  private readonly prepared = new WeakSet<Batch>();
  private readonly toPump = new Set<PartitionWork>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private stream: BusStream | undefined;
  private opening = false;
  private buffered = 0;
  private paused = false;
  private closing: Promise<void> | undefined;

  constructor(
    options: ResolvedKafkaBusOptions,
    subscribe: SubscribeOptions,
    handler: BatchHandler,
    reader: WireReader,
  ) {
    this.group = subscribe.group;
    this.options = options;
    this.subscribe = { maxInFlightBatches: 1, ...subscribe };
    this.handler = handler;
    this.reader = reader;
    this.log = options.log.child({ group: subscribe.group });
    this.consumer = new Consumer({
      clientId: options.clientId,
      bootstrapBrokers: options.brokers,
      groupId: subscribe.group,
      timeout: options.requestTimeoutMs,
      retries: options.requestRetries,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: options.heartbeatIntervalMs,
      rebalanceTimeout: options.rebalanceTimeoutMs,
      maxWaitTime: options.fetchMaxWaitMs,
      highWaterMark: Math.min(1024, options.maxBufferedRecords),
      autocommit: false,
      deserializers: {
        key: stringDeserializer,
        value: (value?: Buffer) => value,
        headerKey: stringDeserializer,
        headerValue: stringDeserializer,
      },
    });
    this.lag = new LagMonitor(this.consumer, this.group, () => [...this.works.values()], this.log);
    this.commits = new OffsetCommitter(
      this.consumer,
      this.group,
      () => [...this.works.values(), ...this.draining],
      this.log,
    );
  }

  /** Joins the group and starts fetching; rejects when the brokers cannot be reached. */
  async open(): Promise<void> {
    this.consumer.on('consumer:group:join', () => this.onAssignment());
    this.consumer.on('error', (err) => this.onMembershipLost(err));

    this.opening = true;
    try {
      await this.openStream();
    } catch (err) {
      this.stopping.abort();
      await withTimeout(this.consumer.close(true), this.options.requestTimeoutMs);
      throw new AletheiaError(
        'BUS_UNAVAILABLE',
        `joining consumer group ${this.group} on ${this.options.brokers.join(',')}: ` +
          describeKafkaError(err),
        { cause: err },
      );
    } finally {
      this.opening = false;
    }

    this.commits.start(this.options.commitIntervalMs);
    this.lag.start(this.options.lagIntervalMs);
    this.log.info({ topics: this.subscribe.topics }, 'subscription started');
  }

  /** Stops fetching, lets batches in the handler finish, commits, leaves the group. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();

    return this.closing;
  }

  private async openStream(): Promise<void> {
    const stream = await this.consumer.consume({
      topics: this.subscribe.topics,
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: false,
    });
    if (this.stopping.signal.aborted) {
      await stream.close();
      return;
    }

    stream.on('data', (message: BusMessage) => this.onMessage(message));
    stream.on('error', (err: Error) => this.onStreamError(stream, err));
    this.stream = stream;
    if (this.paused) stream.pause();
  }

  /**
   * Replaces the fetch stream. The new one is opened before the old one closes: the client
   * leaves and rejoins the group when its last stream on a topic closes.
   */
  private async reopen(): Promise<void> {
    if (this.opening || this.stopping.signal.aborted) return;
    this.opening = true;
    const old = this.stream;
    old?.removeAllListeners('data');
    this.stream = undefined;

    for (let attempt = 1; !this.stopping.signal.aborted; attempt += 1) {
      try {
        await this.openStream();
        break;
      } catch (err) {
        const delayMs = backoffMs(attempt, 500, 30_000);
        this.log.warn({ err, attempt, delayMs }, 'opening the fetch stream failed; retrying');
        await sleep(delayMs, this.stopping.signal);
      }
    }
    this.opening = false;
    await this.closeStream(old);
  }

  private async closeStream(stream: BusStream | undefined): Promise<void> {
    if (!stream) return;
    stream.removeAllListeners('data');
    try {
      await stream.close();
    } catch (err) {
      this.log.debug({ err }, 'closing a fetch stream failed');
    }
  }

  private onStreamError(stream: BusStream, err: Error): void {
    if (stream !== this.stream) return;
    this.log.warn({ err, reason: describeKafkaError(err) }, 'fetch stream failed; reopening it');
    void this.reopen();
  }

  private onMembershipLost(err: unknown): void {
    this.log.error({ err, reason: describeKafkaError(err) }, 'consumer group membership lost');
    if (this.stopping.signal.aborted) return;

    void (async () => {
      for (let attempt = 1; !this.stopping.signal.aborted; attempt += 1) {
        try {
          await this.consumer.joinGroup({});
          return;
        } catch (rejoinErr) {
          const delayMs = backoffMs(attempt, 1_000, 30_000);
          this.log.warn(
            { err: rejoinErr, attempt, delayMs },
            'rejoining the consumer group failed',
          );
          await sleep(delayMs, this.stopping.signal);
        }
      }
    })();
  }

  /** New assignment: revoked partitions drain and commit, new ones start from their commit. */
  private onAssignment(): void {
    if (this.stopping.signal.aborted) return;
    const assigned = new Map<string, { topic: string; partition: number }>();
    for (const { topic, partitions } of this.consumer.assignments ?? []) {
      for (const partition of partitions) {
        assigned.set(partitionKey(topic, partition), { topic, partition });
      }
    }

    for (const [key, work] of this.works) {
      if (!assigned.has(key)) this.revoke(key, work);
    }
    for (const [key, { topic, partition }] of assigned) {
      if (!this.works.has(key)) this.works.set(key, new PartitionWork(topic, partition));
    }
    this.log.info(
      { generation: this.consumer.generationId, partitions: [...assigned.keys()] },
      'partitions assigned',
    );

    if (this.stream) void this.reopen();
  }

  private revoke(key: string, work: PartitionWork): void {
    this.works.delete(key);
    this.buffered -= work.deactivate();
    this.resumeIfDrained();
    this.draining.add(work);

    void (async () => {
      await work.idle(this.options.revokeTimeoutMs);
      await this.commits.commit();
      this.draining.delete(work);
    })();
  }

  private onMessage(message: BusMessage): void {
    const work = this.works.get(partitionKey(message.topic, message.partition));
    if (!work) return;

    const headers: Record<string, string> = {};
    for (const [name, value] of message.headers) headers[name] = value;
    const delivery: Delivery = {
      topic: message.topic,
      partition: message.partition,
      offset: message.offset.toString(),
      key: message.key ?? '',
      value: message.value ?? Buffer.alloc(0),
      headers,
      attempt: 1,
    };
    if (!work.accept(delivery, message.offset, message.leaderEpoch)) return;

    this.buffered += 1;
    if (!this.paused && this.buffered >= this.options.maxBufferedRecords) {
      this.paused = true;
      this.stream?.pause();
    }
    this.schedulePump(work);
  }

  /**
   * Cuts batches once the current fetch response is queued: its records arrive one event at
   * a time, and starting a batch on the first would hand the handler a batch of one.
   */
  private schedulePump(work: PartitionWork): void {
    if (this.toPump.size === 0) {
      process.nextTick(() => {
        const works = [...this.toPump];
        this.toPump.clear();
        for (const scheduled of works) if (scheduled.active) this.pump(scheduled);
      });
    }
    this.toPump.add(work);
  }

  private pump(work: PartitionWork): void {
    while (work.inFlight < this.subscribe.maxInFlightBatches) {
      const batch = work.takeBatch(this.subscribe.maxBatchRecords);
      if (!batch) break;

      this.buffered -= batch.deliveries.length;
      const handling = this.handle(work, batch);
      this.inFlight.add(handling);
      void handling.finally(() => this.inFlight.delete(handling));
    }
    this.resumeIfDrained();
  }

  private resumeIfDrained(): void {
    if (this.paused && this.buffered <= this.options.maxBufferedRecords / 2) {
      this.paused = false;
      this.stream?.resume();
    }
  }

  private async handle(work: PartitionWork, batch: Batch): Promise<void> {
    const labels = { group: this.group, topic: work.topic };
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.prepare(batch);
        busRecordsDelivered.inc(labels, batch.deliveries.length);
        await this.handler(batch.deliveries);
        break;
      } catch (err) {
        busBatchesFailed.inc(labels);
        const first = batch.deliveries[0]!;
        const delayMs = redeliveryDelayMs(attempt);
        this.log.warn(
          { err, topic: work.topic, partition: work.partition, offset: first.offset, attempt },
          'batch failed; it will be delivered again',
        );
        if (work.active) await sleep(delayMs, this.stopping.signal);
        if (!work.active) {
          work.abandon(batch);
          return;
        }
        for (const delivery of batch.deliveries) delivery.attempt = attempt + 1;
      }
    }

    work.ack(batch);
    if (work.active) this.pump(work);
  }

  /** Turns wire-format values into Avro bodies of the current schema, once per batch. */
  private async prepare(batch: Batch): Promise<void> {
    if (this.prepared.has(batch)) return;

    const bodies = await Promise.all(
      batch.deliveries.map((delivery) => this.reader.read(delivery.topic, delivery.value)),
    );
    batch.deliveries.forEach((delivery, i) => (delivery.value = bodies[i]!));
    this.prepared.add(batch);
  }

  /** Steps share `drainTimeoutMs`; committing and leaving the group get at least a second. */
  private async shutdown(): Promise<void> {
    const started = Date.now();
    const left = () => Math.max(1_000, started + this.options.drainTimeoutMs - Date.now());
    this.stopping.abort();
    this.commits.stop();
    this.lag.stop();

    // stop fetching first, so nothing new arrives while the handler finishes
    const stream = this.stream;
    this.stream = undefined;
    for (const work of this.works.values()) work.deactivate();
    await withTimeout(this.closeStream(stream), left());

    // drain what is in the handler, then commit it
    await withTimeout(Promise.allSettled([...this.inFlight]), left());
    await withTimeout(this.commits.commit(), left());

    const leaving = this.consumer.close(true).catch((err: unknown) => {
      this.log.warn({ err, reason: describeKafkaError(err) }, 'leaving the consumer group failed');
    });
    await withTimeout(leaving, left());
    this.log.info({ durationMs: Date.now() - started }, 'subscription closed');
  }
}
