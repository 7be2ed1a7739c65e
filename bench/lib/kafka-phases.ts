/**
 * The three measurements of the Kafka pipeline benchmark, each timed from the first publish
 * until the last expected record was consumed, with publishing and consuming overlapped:
 *
 * - `client`: @platformatic/kafka alone, configured as the bus configures it (idempotent,
 *   acks=all, murmur2 keys; consumer group without autocommit), values framed in the
 *   Confluent wire format: what the client can do without the bus around it.
 * - `ceiling`: the same records through `KafkaBus.publish` and a `KafkaBus` subscription.
 * - `pipeline`: the records published on raw.rss, consumed by a `ProcessStage` on the bus
 *   (normalise, detect language, link entities, dedupe) which publishes canonical articles,
 *   read by a consumer group counting them: what the processing stage sustains on Kafka.
 *
 * Client and ceiling use a fresh topic each; the pipeline uses the fixed topics and the fixed
 * `process` group, so it refuses to run when that group has records of an earlier run left.
 */
import {
  Admin,
  Consumer,
  Producer,
  ProduceAcks,
  compatibilityPartitioner,
  stringDeserializer,
  stringSerializer,
} from '@platformatic/kafka';

import { ProcessStage } from '../../processors/process.ts';
import { CheckpointStore } from '../../runtime/checkpoint.ts';
import { sleep } from '../../runtime/lifecycle.ts';
import type { Logger } from '../../runtime/log.ts';
import { KafkaBus } from '../../runtime/kafka/bus.ts';
import type { KafkaBusOptions } from '../../runtime/kafka/options.ts';
import { SchemaRegistryClient } from '../../runtime/kafka/schema-registry.ts';
import { valueSubject } from '../../runtime/kafka/topic-codec.ts';
import { frame, unframe } from '../../runtime/kafka/wire-format.ts';
import { codecs } from '../../schemas/index.ts';
import { allTopics, topics } from '../../schemas/topics.ts';
import { trackedEntityRecords, trackedQids } from './feed-items.ts';
import type { PackedRecords } from './kafka-feed-items.ts';
import { Countdown, backlog, endOffsets, publishAll, timePhase } from './kafka-measure.ts';
import type { PhaseResult } from './kafka-measure.ts';

export interface KafkaBenchSettings {
  brokers: string[];
  registryUrl: string;
  /** Partitions of the topics created (the application's default is 6). */
  partitions: number;
  publishBatch: number;
  publishers: number;
  /** maxBatchRecords of the processing stage and of the counting subscriptions. */
  processBatch: number;
  runId: string;
  log: Logger;
  profileDir: string | undefined;
  /** Longest a phase may take before it is reported as stuck. */
  timeoutMs: number;
  /** Checkpoints of the processing stage (its entity index). */
  dataDir: string;
}

/** The bus as the application configures it, apart from addresses and retention. */
function busOptions(settings: KafkaBenchSettings): KafkaBusOptions {
  return {
    brokers: settings.brokers,
    clientId: `bench-${settings.runId}`,
    schemaRegistryUrl: settings.registryUrl,
    topicDefaults: {
      partitions: settings.partitions,
      replicationFactor: 1,
      retentionMs: 3_600_000,
    },
    log: settings.log,
  };
}

function admin(settings: KafkaBenchSettings): Admin {
  return new Admin({ clientId: `bench-${settings.runId}`, bootstrapBrokers: settings.brokers });
}

export async function measureClient(
  settings: KafkaBenchSettings,
  input: PackedRecords,
  run: number,
): Promise<PhaseResult> {
  const topic = `raw.bench-client-${settings.runId}-${run}`;
  const clientId = `bench-${settings.runId}`;
  const topicAdmin = admin(settings);
  await topicAdmin.createTopics({ topics: [topic], partitions: settings.partitions, replicas: 1 });
  const registry = new SchemaRegistryClient({ url: settings.registryUrl, timeoutMs: 10_000 });
  const schemaId = await registry.register(valueSubject(topic), codecs.raw.schema());

  const producer = new Producer({
    clientId,
    bootstrapBrokers: settings.brokers,
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
  const consumer = new Consumer({
    clientId,
    bootstrapBrokers: settings.brokers,
    groupId: `bench-client-${settings.runId}-${run}`,
    maxWaitTime: 500,
    highWaterMark: 1024,
    autocommit: false,
    deserializers: {
      key: stringDeserializer,
      value: (value?: Buffer) => value,
      headerKey: stringDeserializer,
      headerValue: stringDeserializer,
    },
  });

  const countdown = new Countdown(input.count);
  const stream = await consumer.consume({
    topics: [topic],
    mode: 'committed',
    fallbackMode: 'earliest',
    autocommit: false,
  });
  stream.on('data', (message) => {
    // the header check the bus does on delivery, so both read the same way
    if (message.value && unframe(message.value)?.schemaId === schemaId) countdown.add(message.key);
  });

  try {
    return await timePhase('client', countdown, settings.profileDir, async () => {
      const consumed = countdown.within(settings.timeoutMs, 'client: consuming');
      await publishAll(input, settings.publishBatch, settings.publishers, async (records) => {
        const messages = records.map(({ key, value }) => ({
          topic,
          key,
          value: frame(schemaId, value),
        }));
        await producer.send({ messages });
      });
      await consumed;
    });
  } finally {
    await stream.close();
    await consumer.close(true);
    await producer.close();
    await topicAdmin.deleteTopics({ topics: [topic] }).catch(() => {});
    await topicAdmin.close();
  }
}

export async function measureCeiling(
  settings: KafkaBenchSettings,
  input: PackedRecords,
  run: number,
): Promise<PhaseResult> {
  const topic = `raw.bench-ceiling-${settings.runId}-${run}`;
  const bus = new KafkaBus(busOptions(settings));
  await bus.start();
  await bus.ensureTopics([topic]);

  const countdown = new Countdown(input.count);
  await bus.subscribe(
    {
      group: `bench-ceiling-${settings.runId}-${run}`,
      topics: [topic],
      maxBatchRecords: settings.processBatch,
    },
    async (batch) => {
      for (const delivery of batch) countdown.add(delivery.key);
    },
  );

  const topicAdmin = admin(settings);
  try {
    return await timePhase('ceiling', countdown, settings.profileDir, async () => {
      const consumed = countdown.within(settings.timeoutMs, 'ceiling: consuming');
      await publishAll(input, settings.publishBatch, settings.publishers, (records) =>
        bus.publish(topic, records),
      );
      await consumed;
    });
  } finally {
    await bus.stop();
    await topicAdmin.deleteTopics({ topics: [topic] }).catch(() => {});
    await topicAdmin.close();
  }
}

export async function measurePipeline(
  settings: KafkaBenchSettings,
  input: PackedRecords,
  run: number,
): Promise<PhaseResult> {
  const raw = topics.raw('rss');
  const articles = topics.canonical('article');
  const bus = new KafkaBus(busOptions(settings));
  await bus.start();
  await bus.ensureTopics(allTopics());

  const topicAdmin = admin(settings);
  const left = await backlog(topicAdmin, 'process', raw);
  if (left > 0n) {
    await Promise.allSettled([bus.stop(), topicAdmin.close()]);
    throw new Error(
      `group process has ${left} records of ${raw} left from an earlier run: start from an ` +
        'empty stack (scripts/stack down --purge, then scripts/stack up)',
    );
  }

  const stage = new ProcessStage({
    bus,
    checkpoints: new CheckpointStore(settings.dataDir),
    log: settings.log,
    options: {
      trackedEntities: trackedQids,
      linkWaitMs: 30_000,
      maxBatchRecords: settings.processBatch,
    },
  });

  try {
    await stage.start();
    await waitForEntityNames(bus, stage);

    // canonical.article may hold articles of earlier runs: the counting group starts at its
    // end, as if it had read them (reading them all would be timed too), and skips any older
    const from = await endOffsets(topicAdmin, articles);
    const group = `bench-articles-${settings.runId}-${run}`;
    await topicAdmin.alterConsumerGroupOffsets({
      groupId: group,
      topics: [
        {
          name: articles,
          partitionOffsets: [...from].map(([partition, offset]) => ({ partition, offset })),
        },
      ],
    });
    const countdown = new Countdown(input.count);
    await bus.subscribe(
      {
        group,
        topics: [articles],
        maxBatchRecords: settings.processBatch,
      },
      async (batch) => {
        const start = from.get(batch[0]!.partition) ?? 0n;
        for (const { key, offset } of batch) if (BigInt(offset) >= start) countdown.add(key);
      },
    );

    return await timePhase('pipeline', countdown, settings.profileDir, async () => {
      const consumed = countdown.within(settings.timeoutMs, `pipeline: reading ${articles}`);
      await publishAll(input, settings.publishBatch, settings.publishers, (records) =>
        bus.publish(raw, records),
      );
      await consumed;
    });
  } finally {
    await stage.stop();
    await bus.stop();
    await topicAdmin.close();
  }
}

/** The tracked entities through the stage first, so no article waits for their names. */
async function waitForEntityNames(bus: KafkaBus, stage: ProcessStage): Promise<void> {
  for (const entity of trackedEntityRecords()) {
    const value = codecs.raw.encode(entity);
    await bus.publish(topics.raw('wikidata'), [{ key: entity.id, value }]);
  }

  const deadline = Date.now() + 30_000;
  for (;;) {
    const health = await stage.health();
    if (!health.detail) return;
    if (Date.now() > deadline) throw new Error(`processing stage not ready: ${health.detail}`);
    await sleep(100);
  }
}
