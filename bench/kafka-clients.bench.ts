/**
 * Compares Kafka clients on the local broker: produce N Avro records of about 1 KB in the
 * Confluent wire format, consume them back in a fresh consumer group, then both at once
 * (consumer running while the producer writes). Prints records/s for each phase and client.
 *
 *   eval "$(scripts/stack env)" && npm exec -- node bench/kafka-clients.bench.ts
 *
 * BENCH_RECORDS sets N (default 50000). Both clients produce with acks=all, idempotence on and
 * batches of BENCH_SEND_BATCH records (default 500), awaiting each batch, as the bus does.
 * kafkajs is not a dependency: it is installed with `npm install --no-save` when missing, and
 * its runs are skipped with a message when that fails.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import {
  Admin,
  Consumer,
  Producer,
  ProduceAcks,
  stringSerializers,
  stringDeserializers,
} from '@platformatic/kafka';

import { frame, unframe } from '../runtime/kafka/wire-format.ts';
import { SchemaRegistryClient } from '../runtime/kafka/schema-registry.ts';
import { codecs } from '../schemas/index.ts';

const records = Number(process.env.BENCH_RECORDS ?? 50_000);
const sendBatch = Number(process.env.BENCH_SEND_BATCH ?? 500);
const partitions = 3;
const brokers = process.env.ALETHEIA_KAFKA_BROKERS?.split(',');
const registryUrl = process.env.ALETHEIA_SCHEMA_REGISTRY_URL;
const root = fileURLToPath(new URL('..', import.meta.url));
const runId = randomUUID().slice(0, 8);

if (!brokers || !registryUrl) {
  console.error(
    'ALETHEIA_KAFKA_BROKERS and ALETHEIA_SCHEMA_REGISTRY_URL are not set: run `scripts/stack up` ' +
      'and `eval "$(scripts/stack env)"` first.',
  );
  process.exit(1);
}

interface Message {
  key: string;
  value: Buffer;
}

interface ClientRun {
  name: string;
  produce(topic: string, messages: Message[]): Promise<void>;
  /** Resolves once `count` records were received; `ready` resolves once the group is joined. */
  consume(topic: string, count: number): { ready: Promise<void>; done: Promise<void> };
  close(): Promise<void>;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));

  return out;
}

/** A value as the bus writes it: checks the header like the bus does on delivery. */
function checkFramed(value: Buffer | null | undefined, schemaId: number): void {
  if (!value || unframe(value)?.schemaId !== schemaId) throw new Error('unexpected wire format');
}

function platformatic(schemaId: number): ClientRun {
  const producer = new Producer({
    clientId: `bench-${runId}`,
    bootstrapBrokers: brokers!,
    serializers: { ...stringSerializers, value: (value?: Buffer) => value },
    idempotent: true,
    acks: ProduceAcks.ALL,
  });
  const consumers: Consumer<string, Buffer, string, string>[] = [];

  return {
    name: '@platformatic/kafka',
    async produce(topic, messages) {
      for (const batch of chunks(messages, sendBatch)) {
        await producer.send({ messages: batch.map((message) => ({ ...message, topic })) });
      }
    },
    consume(topic, count) {
      const consumer = new Consumer({
        clientId: `bench-${runId}`,
        bootstrapBrokers: brokers!,
        groupId: `bench-${topic}`,
        deserializers: { ...stringDeserializers, value: (value?: Buffer) => value },
        autocommit: false,
        maxWaitTime: 200,
      });
      consumers.push(consumer);
      let resolveDone!: () => void;
      const done = new Promise<void>((resolve) => (resolveDone = resolve));
      const ready = consumer
        .consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest' })
        .then((stream) => {
          let seen = 0;
          stream.on('data', (message) => {
            checkFramed(message.value, schemaId);
            seen += 1;
            if (seen === count) resolveDone();
          });
        });

      return { ready, done };
    },
    async close() {
      await producer.close();
      for (const consumer of consumers) await consumer.close(true);
    },
  };
}

async function loadKafkajs(): Promise<typeof import('kafkajs') | undefined> {
  const require = createRequire(import.meta.url);
  try {
    require.resolve('kafkajs');
  } catch {
    console.log('kafkajs is not installed: npm install --no-save kafkajs@2');
    try {
      execFileSync('npm', ['install', '--no-save', 'kafkajs@2'], { cwd: root, stdio: 'inherit' });
    } catch (err) {
      console.log(`skipping kafkajs: it could not be installed (${(err as Error).message})`);

      return undefined;
    }
  }

  return (await import('kafkajs')).default as unknown as typeof import('kafkajs');
}

function kafkajsRun(kafkajs: typeof import('kafkajs'), schemaId: number): ClientRun {
  const kafka = new kafkajs.Kafka({
    clientId: `bench-${runId}`,
    brokers: brokers!,
    logLevel: kafkajs.logLevel.NOTHING,
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumers: ReturnType<typeof kafka.consumer>[] = [];
  const connected = producer.connect();

  return {
    name: 'kafkajs',
    async produce(topic, messages) {
      await connected;
      for (const batch of chunks(messages, sendBatch)) {
        await producer.send({ topic, acks: -1, messages: batch });
      }
    },
    consume(topic, count) {
      const consumer = kafka.consumer({ groupId: `bench-${topic}`, maxWaitTimeInMs: 200 });
      consumers.push(consumer);
      let resolveDone!: () => void;
      const done = new Promise<void>((resolve) => (resolveDone = resolve));
      let resolveReady!: () => void;
      const ready = new Promise<void>((resolve) => (resolveReady = resolve));
      consumer.on(consumer.events.GROUP_JOIN, () => resolveReady());
      let seen = 0;
      void (async () => {
        await consumer.connect();
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages) checkFramed(message.value, schemaId);
            seen += batch.messages.length;
            if (seen >= count) resolveDone();
          },
        });
      })();

      return { ready, done };
    },
    async close() {
      await producer.disconnect();
      for (const consumer of consumers) await consumer.disconnect();
    },
  };
}

function rate(count: number, startedMs: number): string {
  const seconds = (performance.now() - startedMs) / 1000;

  const perSecond = Math.round(count / seconds).toLocaleString('en-US');

  return `${perSecond} records/s (${seconds.toFixed(2)} s)`;
}

async function measure(client: ClientRun, admin: Admin, messages: Message[]): Promise<void> {
  const base = `bench.${runId}.${client.name.replace(/[^a-z]/g, '')}`;
  await admin.createTopics({
    topics: [`${base}.a`, `${base}.b`],
    partitions,
    replicas: 1,
  });

  let started = performance.now();
  await client.produce(`${base}.a`, messages);
  console.log(`${client.name.padEnd(20)} produce          ${rate(messages.length, started)}`);

  started = performance.now();
  const consumed = client.consume(`${base}.a`, messages.length);
  await consumed.ready;
  const joinedMs = performance.now() - started;
  started = performance.now();
  await consumed.done;
  console.log(
    `${client.name.padEnd(20)} consume          ${rate(messages.length, started)}, ` +
      `after joining the group in ${Math.round(joinedMs)} ms`,
  );

  const both = client.consume(`${base}.b`, messages.length);
  await both.ready;
  started = performance.now();
  await client.produce(`${base}.b`, messages);
  await both.done;
  console.log(`${client.name.padEnd(20)} produce+consume  ${rate(messages.length, started)}`);

  await client.close();
  await admin.deleteTopics({ topics: [`${base}.a`, `${base}.b`] });
}

async function main(): Promise<void> {
  const registry = new SchemaRegistryClient({ url: registryUrl!, timeoutMs: 10_000 });
  const schemaId = await registry.register(`bench.${runId}-value`, codecs.raw.schema());
  const body = randomBytes(400).toString('hex').slice(0, 800);
  const messages: Message[] = Array.from({ length: records }, (_, i) => {
    const nativeId = `item-${i}`;
    const value = codecs.raw.encode({
      id: `rss:${nativeId}`,
      source: 'rss',
      nativeId,
      sourceUrl: `https://news.example.org/articles/${i}`,
      fetchedAt: Date.now(),
      contentType: 'application/vnd.aletheia.feed-item+json',
      body: Buffer.from(body),
      context: { feed: 'https://news.example.org/rss', language: 'pt' },
    });

    return { key: `rss:${nativeId}`, value: frame(schemaId, value) };
  });
  const meanBytes = messages.reduce((sum, m) => sum + m.value.length, 0) / messages.length;
  console.log(
    `${records} records of ${Math.round(meanBytes)} bytes, ${partitions} partitions, ` +
      `batches of ${sendBatch}, acks=all, idempotent`,
  );

  const admin = new Admin({ clientId: `bench-${runId}`, bootstrapBrokers: brokers! });
  try {
    await measure(platformatic(schemaId), admin, messages);
    const kafkajs = await loadKafkajs();
    if (kafkajs) await measure(kafkajsRun(kafkajs, schemaId), admin, messages);
  } finally {
    await admin.close();
  }
}

await main();
