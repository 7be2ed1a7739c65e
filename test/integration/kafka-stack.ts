/**
 * Helpers for tests against the local stack (`scripts/stack up`): where Kafka and the schema
 * registry are, unique names per run, records to publish, and independent clients (kcat, the
 * registry's REST API, a bare producer) to check what the bus wrote.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';

import { Admin, Producer, ProduceAcks } from '@platformatic/kafka';

import type { KafkaBusOptions } from '../../runtime/kafka/options.ts';
import { silentLogger } from '../../runtime/log.ts';
import { codecs } from '../../schemas/index.ts';
import type { RawRecord } from '../../schemas/types.ts';

const run = promisify(execFile);

export interface StackEnv {
  brokers: string[];
  registryUrl: string;
}

/** The stack's addresses from the environment; throws (failing the test) when they are unset. */
export function stackEnv(): StackEnv {
  const brokers = process.env.ALETHEIA_KAFKA_BROKERS;
  const registryUrl = process.env.ALETHEIA_SCHEMA_REGISTRY_URL;
  if (!brokers || !registryUrl) {
    throw new Error(
      'ALETHEIA_KAFKA_BROKERS and ALETHEIA_SCHEMA_REGISTRY_URL are not set: start the local ' +
        'stack with `scripts/stack up`, then `eval "$(scripts/stack env)"` before running ' +
        'the integration tests',
    );
  }

  return { brokers: brokers.split(','), registryUrl };
}

const runId = randomUUID().slice(0, 8);
let counter = 0;

/** A name no other run or test uses: `<prefix>-<run>-<n>`. */
export function unique(prefix: string): string {
  counter += 1;

  return `${prefix}-${runId}-${counter}`;
}

/** Bus options for tests: short timeouts so rebalances and failures show up within seconds. */
export function testBusOptions(env: StackEnv, overrides: Partial<KafkaBusOptions> = {}) {
  return {
    brokers: env.brokers,
    clientId: 'aletheia-test',
    schemaRegistryUrl: env.registryUrl,
    topicDefaults: { partitions: 3, replicationFactor: 1, retentionMs: 3_600_000 },
    log: silentLogger(),
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 500,
    rebalanceTimeoutMs: 15_000,
    fetchMaxWaitMs: 100,
    commitIntervalMs: 200,
    revokeTimeoutMs: 1_000,
    drainTimeoutMs: 3_000,
    requestTimeoutMs: 10_000,
    ...overrides,
  } satisfies KafkaBusOptions;
}

export function rawRecord(nativeId: string, extra: Partial<RawRecord> = {}): RawRecord {
  return {
    id: `rss:${nativeId}`,
    source: 'rss',
    nativeId,
    sourceUrl: `https://news.example.org/articles/${nativeId}`,
    fetchedAt: 1_764_000_000_000,
    contentType: 'application/vnd.aletheia.feed-item+json',
    body: Buffer.from(JSON.stringify({ title: `Article ${nativeId}` })),
    context: { feed: 'https://news.example.org/rss' },
    ...extra,
  };
}

export function rawValue(nativeId: string): Buffer {
  return codecs.raw.encode(rawRecord(nativeId));
}

/** Polls until `check` returns true, failing with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The first value of a topic read with kcat, a client independent of the bus' own library. */
export async function kcatValue(env: StackEnv, topic: string): Promise<Buffer> {
  const { stdout } = await run(
    'kcat',
    [
      '-C',
      '-b',
      env.brokers.join(','),
      '-t',
      topic,
      '-o',
      'beginning',
      '-c',
      '1',
      '-e',
      '-f',
      '%s',
    ],
    { encoding: 'buffer', timeout: 30_000 },
  );

  return stdout;
}

export async function registry(
  env: StackEnv,
  method: string,
  path: string,
  body?: object,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(env.registryUrl + path, {
    method,
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();

  return { status: response.status, body: text ? JSON.parse(text) : {} };
}

export async function createTopic(env: StackEnv, topic: string, partitions: number) {
  const admin = new Admin({ clientId: 'aletheia-test', bootstrapBrokers: env.brokers });
  try {
    await admin.createTopics({ topics: [topic], partitions, replicas: 1 });
  } finally {
    await admin.close();
  }
}

/** Deletes the topics and their registry subjects a test created. */
export async function cleanUp(env: StackEnv, topics: string[]): Promise<void> {
  const admin = new Admin({ clientId: 'aletheia-test', bootstrapBrokers: env.brokers });
  try {
    const existing = new Set(await admin.listTopics());
    const ours = topics.filter((topic) => existing.has(topic));
    if (ours.length > 0) await admin.deleteTopics({ topics: ours });
  } finally {
    await admin.close();
  }

  for (const topic of topics) {
    await registry(env, 'DELETE', `/subjects/${topic}-value`);
    await registry(env, 'DELETE', `/subjects/${topic}-value?permanent=true`);
  }
}

/** Writes values exactly as given (no framing), as a foreign producer would. */
export async function produceRaw(
  env: StackEnv,
  topic: string,
  records: { key: string; value: Buffer }[],
): Promise<void> {
  const producer = new Producer({
    clientId: 'aletheia-test-foreign',
    bootstrapBrokers: env.brokers,
    acks: ProduceAcks.ALL,
    serializers: { key: (key?: string) => (key === undefined ? undefined : Buffer.from(key)) },
  });
  try {
    await producer.send({ messages: records.map((record) => ({ topic, ...record })) });
  } finally {
    await producer.close();
  }
}
