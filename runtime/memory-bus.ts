/**
 * In-process bus: the embedded default. Topics live in memory, split into partitions; each
 * consumer group has its own bounded queue per partition. Nothing survives a restart, which
 * is why `publish` waits for every subscribed group to acknowledge: a source only checkpoints
 * what the whole pipeline has handled, so after a crash it fetches the rest again.
 *
 * Limits: one subscription per consumer group (a second one in the same process would only
 * compete for the same memory); records published to a topic nobody subscribes to are
 * discarded, like a Kafka topic nobody reads once retention passes.
 */
import { AletheiaError } from './errors.ts';
import { sleep as interruptibleSleep } from './lifecycle.ts';
import {
  partitionOf,
  redeliveryDelayMs,
  type BatchHandler,
  type Bus,
  type Delivery,
  type OutgoingRecord,
  type SubscribeOptions,
  type Subscription,
} from './bus.ts';

export interface MemoryBusOptions {
  partitions: number;
  /** Records one partition queue holds for a group before publishers wait. */
  queueMaxRecords: number;
  /** How long `stop` waits for handlers to finish their batches. */
  drainTimeoutMs?: number;
}

interface Entry {
  delivery: Delivery;
  settle: (err?: Error) => void;
}

/** One group's view of one partition: records waiting or being handled, in offset order. */
class PartitionQueue {
  readonly entries: Entry[] = [];
  /** Entries already handed to the handler (a prefix of `entries` at most in count). */
  delivered = new Set<Entry>();
  batchesInFlight = 0;
  private spaceWaiters: (() => void)[] = [];
  private readonly capacity: number;
  wake: () => void = () => {};

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Set once the group closed: nothing pushed afterwards would ever be handled. */
  closed = false;

  full(): boolean {
    return this.entries.length >= this.capacity;
  }

  /** Resolves at the next removal (or when the queue closes); the caller checks again. */
  spaceFreed(): Promise<void> {
    return new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
  }

  push(entry: Entry): void {
    if (this.closed) {
      entry.settle(new AletheiaError('COMPONENT_STOPPED', 'consumer group closed'));

      return;
    }
    this.entries.push(entry);
    this.wake();
  }

  remove(done: Entry[]): void {
    const finished = new Set(done);
    for (const entry of done) this.delivered.delete(entry);
    const kept = this.entries.filter((entry) => !finished.has(entry));
    this.entries.length = 0;
    this.entries.push(...kept);

    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const resolve of waiters) resolve();
  }

  takeBatch(max: number): Entry[] {
    const batch: Entry[] = [];
    for (const entry of this.entries) {
      if (batch.length >= max) break;
      if (this.delivered.has(entry)) continue;
      this.delivered.add(entry);
      batch.push(entry);
    }

    return batch;
  }

  /** Fails everything still queued, so publishers do not wait forever on a stopped bus. */
  abandon(reason: Error): void {
    this.closed = true;
    for (const entry of this.entries) entry.settle(reason);
    this.entries.length = 0;
    this.delivered.clear();
    this.remove([]);
  }
}

class MemorySubscription implements Subscription {
  readonly group: string;
  readonly queues: Map<string, PartitionQueue[]>;
  private readonly options: SubscribeOptions;
  private readonly handler: BatchHandler;
  private readonly inFlight = new Set<Promise<void>>();
  private running = true;
  /** Aborted on close, to cut short a wait before redelivery. */
  private readonly stopped = new AbortController();
  private readonly onClose: () => void;

  constructor(
    options: SubscribeOptions,
    handler: BatchHandler,
    partitions: number,
    capacity: number,
    onClose: () => void,
  ) {
    this.group = options.group;
    this.options = options;
    this.handler = handler;
    this.onClose = onClose;
    this.queues = new Map(
      options.topics.map((topic) => [
        topic,
        Array.from({ length: partitions }, () => new PartitionQueue(capacity)),
      ]),
    );
    for (const queues of this.queues.values()) {
      for (const queue of queues) queue.wake = () => this.pump(queue);
    }
  }

  /** Hands out batches from one partition while in-flight slots are free. */
  private pump(queue: PartitionQueue): void {
    const maxInFlight = this.options.maxInFlightBatches ?? 1;
    while (this.running && queue.batchesInFlight < maxInFlight) {
      const batch = queue.takeBatch(this.options.maxBatchRecords);
      if (batch.length === 0) return;

      queue.batchesInFlight += 1;
      this.track(this.handle(queue, batch));
    }
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private async handle(queue: PartitionQueue, batch: Entry[]): Promise<void> {
    for (;;) {
      try {
        await this.handler(batch.map((entry) => entry.delivery));
        break;
      } catch {
        if (!this.running) return this.release(queue, batch);
        const attempt = batch[0]!.delivery.attempt;
        await interruptibleSleep(redeliveryDelayMs(attempt), this.stopped.signal);
        if (!this.running) return this.release(queue, batch);
        for (const entry of batch) entry.delivery.attempt += 1;
      }
    }

    queue.batchesInFlight -= 1;
    queue.remove(batch);
    for (const entry of batch) entry.settle();
    queue.wake();
  }

  /** Gives a batch back to its queue undelivered, for `drain` to abandon. */
  private release(queue: PartitionQueue, batch: Entry[]): void {
    for (const entry of batch) queue.delivered.delete(entry);
    queue.batchesInFlight -= 1;
  }

  async close(): Promise<void> {
    await this.drain(Number.POSITIVE_INFINITY);
    this.onClose();
  }

  async drain(timeoutMs: number): Promise<void> {
    this.running = false;
    this.stopped.abort();
    const settled = Promise.allSettled([...this.inFlight]);
    await (Number.isFinite(timeoutMs) ? Promise.race([settled, sleep(timeoutMs)]) : settled);

    const stopped = new AletheiaError('COMPONENT_STOPPED', `consumer group ${this.group} closed`);
    for (const queues of this.queues.values()) {
      for (const queue of queues) queue.abandon(stopped);
    }
  }
}

export class MemoryBus implements Bus {
  readonly kind = 'memory';
  private readonly options: MemoryBusOptions;
  private readonly topics = new Map<string, bigint[]>();
  private readonly subscriptions = new Set<MemorySubscription>();
  private started = false;

  constructor(options: MemoryBusOptions) {
    this.options = options;
  }

  async start(): Promise<void> {
    this.started = true;
  }

  async stop(): Promise<void> {
    this.started = false;
    const timeoutMs = this.options.drainTimeoutMs ?? 10_000;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.drain(timeoutMs)));
    this.subscriptions.clear();
  }

  async ensureTopics(topics: string[]): Promise<void> {
    for (const topic of topics) {
      if (!this.topics.has(topic)) {
        this.topics.set(
          topic,
          Array.from({ length: this.options.partitions }, () => 0n),
        );
      }
    }
  }

  async healthy(): Promise<boolean> {
    return this.started;
  }

  async publish(topic: string, records: OutgoingRecord[]): Promise<void> {
    const offsets = this.topics.get(topic);
    if (!offsets) throw new AletheiaError('CONFIG_INVALID', `publishing to unknown topic ${topic}`);
    if (!this.started)
      throw new AletheiaError('COMPONENT_STOPPED', `publishing to ${topic}: bus stopped`);

    const acknowledged: Promise<void>[] = [];
    for (const record of records) {
      const partition = partitionOf(record.key, this.options.partitions);
      // Checked and pushed in one synchronous step, so concurrent publishers cannot all
      // pass the check and overfill a queue between them.
      let queues = this.queuesFor(topic, partition);
      for (;;) {
        const full = queues.find((queue) => queue.full() && !queue.closed);
        if (!full) break;
        await full.spaceFreed();
        queues = this.queuesFor(topic, partition);
      }

      const offset = offsets[partition]!;
      offsets[partition] = offset + 1n;
      for (const queue of queues) {
        const settled = new Promise<void>((resolve, reject) => {
          const delivery: Delivery = {
            topic,
            partition,
            offset: offset.toString(),
            key: record.key,
            value: record.value,
            headers: { ...record.headers },
            attempt: 1,
          };
          queue.push({ delivery, settle: (err) => (err ? reject(err) : resolve()) });
        });
        // Observed here so a rejection while later records still wait for space is not
        // reported as unhandled; the Promise.all below still sees it.
        settled.catch(() => {});
        acknowledged.push(settled);
      }
    }

    await Promise.all(acknowledged);
  }

  async subscribe(options: SubscribeOptions, handler: BatchHandler): Promise<Subscription> {
    await this.ensureTopics(options.topics);
    for (const existing of this.subscriptions) {
      if (existing.group === options.group) {
        throw new AletheiaError(
          'CONFIG_INVALID',
          `consumer group ${options.group} already has a subscription in this process`,
        );
      }
    }

    const subscription = new MemorySubscription(
      options,
      handler,
      this.options.partitions,
      this.options.queueMaxRecords,
      () => this.subscriptions.delete(subscription),
    );
    this.subscriptions.add(subscription);

    return subscription;
  }

  private queuesFor(topic: string, partition: number): PartitionQueue[] {
    const queues: PartitionQueue[] = [];
    for (const subscription of this.subscriptions) {
      const queue = subscription.queues.get(topic)?.[partition];
      if (queue) queues.push(queue);
    }

    return queues;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
