/**
 * The Kafka bus against the local stack (`scripts/stack up`, then `eval "$(scripts/stack env)"`):
 * the bus contract the in-process bus also passes, the Confluent wire format as an independent
 * client (kcat) and the registry see it, schema evolution, and consumer groups across
 * processes. Without the stack's environment every test fails, saying how to start it.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { after, before, describe, it } from 'node:test';

import type { Bus, Delivery } from '../../runtime/bus.ts';
import { isAletheiaError } from '../../runtime/errors.ts';
import { KafkaBus } from '../../runtime/kafka/bus.ts';
import { frame } from '../../runtime/kafka/wire-format.ts';
import { registry as metrics } from '../../runtime/metrics.ts';
import { codecs } from '../../schemas/index.ts';
import {
  cleanUp,
  createTopic,
  kcatValue,
  produceRaw,
  rawRecord,
  rawValue,
  registry,
  stackEnv,
  testBusOptions,
  unique,
  waitFor,
  type StackEnv,
} from './kafka-stack.ts';

let env: StackEnv;
const topicsCreated: string[] = [];
const buses: Bus[] = [];

/** A started bus, with `topic` created if missing and its schema registered. */
async function busWith(topic: string, overrides: Parameters<typeof testBusOptions>[1] = {}) {
  const bus = new KafkaBus(testBusOptions(env, overrides));
  buses.push(bus);
  await bus.start();
  await bus.ensureTopics([topic]);

  return bus;
}

function newTopic(): string {
  const topic = unique('raw.it');
  topicsCreated.push(topic);

  return topic;
}

const nativeIdOf = (delivery: Delivery) => codecs.raw.decode(delivery.value).nativeId;

describe('KafkaBus', () => {
  before(() => {
    env = stackEnv();
  });

  after(async () => {
    await Promise.all(buses.map((bus) => bus.stop()));
    if (env) await cleanUp(env, topicsCreated);
  });

  it('delivers what was published, in order per key, with headers', async () => {
    const topic = newTopic();
    const bus = await busWith(topic);
    const seen: Delivery[] = [];
    await bus.subscribe({ group: unique('g'), topics: [topic], maxBatchRecords: 4 }, async (b) => {
      seen.push(...b);
    });

    const keys = ['rss:a', 'rss:b', 'rss:c'];
    const records = Array.from({ length: 30 }, (_, i) => ({
      key: keys[i % 3]!,
      value: rawValue(`${keys[i % 3]}-${i}`),
      headers: { 'aletheia-trace': `t${i}` },
    }));
    await bus.publish(topic, records);
    await waitFor('30 deliveries', () => seen.length >= 30);

    for (const key of keys) {
      const ofKey = seen.filter((delivery) => delivery.key === key);
      assert.deepEqual(
        ofKey.map(nativeIdOf),
        records.filter((r) => r.key === key).map((r) => codecs.raw.decode(r.value).nativeId),
      );
      assert.equal(new Set(ofKey.map((delivery) => delivery.partition)).size, 1);
    }
    const first = seen.find((delivery) => nativeIdOf(delivery) === 'rss:a-0')!;
    assert.equal(first.topic, topic);
    assert.equal(first.attempt, 1);
    assert.match(first.offset, /^\d+$/);
    assert.deepEqual(first.headers, { 'aletheia-trace': 't0' });
  });

  it('redelivers a batch whose handler failed, with the attempt counted', async () => {
    const topic = newTopic();
    const bus = await busWith(topic);
    const attempts: number[] = [];
    const offsets = new Set<string>();
    await bus.subscribe({ group: unique('g'), topics: [topic], maxBatchRecords: 10 }, async (b) => {
      attempts.push(b[0]!.attempt);
      offsets.add(b[0]!.offset);
      if (attempts.length < 3) throw new Error('store down');
    });

    await bus.publish(topic, [{ key: 'rss:a', value: rawValue('a') }]);
    await waitFor('three attempts', () => attempts.length >= 3);
    assert.deepEqual(attempts.slice(0, 3), [1, 2, 3]);
    assert.equal(offsets.size, 1);
  });

  it('runs several batches of one partition at once when allowed', async () => {
    const topic = newTopic();
    await createTopic(env, topic, 1);
    const bus = await busWith(topic);
    let concurrent = 0;
    let peak = 0;
    let handled = 0;
    await bus.subscribe(
      { group: unique('g'), topics: [topic], maxBatchRecords: 2, maxInFlightBatches: 4 },
      async (batch) => {
        concurrent += 1;
        peak = Math.max(peak, concurrent);
        await new Promise((resolve) => setTimeout(resolve, 100));
        concurrent -= 1;
        handled += batch.length;
      },
    );

    await bus.publish(
      topic,
      Array.from({ length: 16 }, (_, i) => ({ key: `rss:${i}`, value: rawValue(String(i)) })),
    );
    await waitFor('16 records handled', () => handled >= 16);
    assert.equal(peak, 4);
  });

  it('resolves publish once the broker has the records', async () => {
    const topic = newTopic();
    const bus = await busWith(topic);

    await bus.publish(topic, [{ key: 'rss:a', value: rawValue('a') }]);
    // read right away by another client: nothing is buffered on the publishing side
    const value = await kcatValue(env, topic);
    assert.equal(codecs.raw.decode(value.subarray(5)).nativeId, 'a');
  });

  it('refuses to start without a broker, and unknown topics', async () => {
    const topic = newTopic();
    const bus = await busWith(topic);
    assert.equal(await bus.healthy(), true);
    await assert.rejects(
      bus.publish(unique('raw.missing'), [{ key: 'k', value: rawValue('a') }]),
      (err) =>
        isAletheiaError(err, 'CONFIG_INVALID') && /unknown topic raw\.missing/.test(err.message),
    );

    const offline = new KafkaBus(
      testBusOptions(env, { brokers: ['127.0.0.1:1'], requestRetries: 0, requestTimeoutMs: 2_000 }),
    );
    await assert.rejects(
      offline.start(),
      (err) => isAletheiaError(err, 'BUS_UNAVAILABLE') && err.message.includes('127.0.0.1:1'),
    );
    assert.equal(await offline.healthy(), false);
    await offline.stop();
  });

  it('refuses a record larger than the broker accepts, as a record problem', async () => {
    const topic = newTopic();
    const bus = await busWith(topic);
    const huge = codecs.raw.encode({ ...rawRecord('huge'), body: Buffer.alloc(2 << 20, 1) });

    await assert.rejects(bus.publish(topic, [{ key: 'rss:huge', value: huge }]), (err) => {
      assert.ok(isAletheiaError(err, 'RECORD_UNSUPPORTED'), String(err));
      assert.match(err.message, /larger than the broker accepts/);

      return true;
    });
  });

  it('writes values in the Confluent wire format with the registered schema id', async () => {
    const topic = newTopic();
    const bus = await busWith(topic);
    await bus.publish(topic, [{ key: 'rss:a', value: rawValue('a') }]);

    const value = await kcatValue(env, topic);
    const latest = await registry(env, 'GET', `/subjects/${topic}-value/versions/latest`);
    assert.equal(latest.status, 200);
    assert.equal(value[0], 0);
    assert.equal(value.readUInt32BE(1), latest.body.id);
    assert.deepEqual({ ...codecs.raw.decode(value.subarray(5)) }, rawRecord('a'));
    const config = await registry(env, 'GET', `/config/${topic}-value`);
    assert.equal(config.body.compatibilityLevel, 'BACKWARD');
  });

  it('refuses at start a schema the registry finds incompatible', async () => {
    const topic = newTopic();
    const subject = `${topic}-value`;
    await registry(env, 'PUT', `/config/${subject}`, { compatibility: 'BACKWARD' });
    // an earlier schema whose records the current raw schema cannot read: `source` and more
    // are required now and have no default
    const earlier = {
      type: 'record',
      name: 'RawRecord',
      namespace: 'org.aletheia.raw',
      fields: [{ name: 'id', type: 'string' }],
    };
    const registered = await registry(env, 'POST', `/subjects/${subject}/versions`, {
      schema: JSON.stringify(earlier),
    });
    assert.equal(registered.status, 200);

    const bus = new KafkaBus(testBusOptions(env));
    buses.push(bus);
    await bus.start();
    await assert.rejects(bus.ensureTopics([topic]), (err) => {
      assert.ok(isAletheiaError(err, 'SCHEMA_INCOMPATIBLE'), String(err));
      assert.match(err.message, new RegExp(`subject ${subject.replaceAll('.', '\\.')}`));
      assert.match(err.message, /incompatible/i);

      return true;
    });
  });

  it('resolves records written with an older schema to the current one', async () => {
    const topic = newTopic();
    await createTopic(env, topic, 1);
    const subject = `${topic}-value`;
    const current = codecs.raw.schema() as { fields: { name: string }[] };
    const older = { ...current, fields: current.fields.filter((f) => f.name !== 'context') };
    const { body } = await registry(env, 'POST', `/subjects/${subject}/versions`, {
      schema: JSON.stringify(older),
    });
    const olderId = body.id as number;
    const { context: _dropped, ...olderRecord } = rawRecord('old');
    const avsc = (await import('avsc')).default;
    const olderBytes = avsc.Type.forSchema(older as never).toBuffer(olderRecord);
    await produceRaw(env, topic, [{ key: 'rss:old', value: frame(olderId, olderBytes) }]);

    const bus = await busWith(topic);
    const latest = await registry(env, 'GET', `/subjects/${subject}/versions/latest`);
    assert.notEqual(latest.body.id, olderId, 'the current schema is a new version');
    const seen: Delivery[] = [];
    await bus.subscribe({ group: unique('g'), topics: [topic], maxBatchRecords: 10 }, async (b) => {
      seen.push(...b);
    });
    await waitFor('the older record', () => seen.length >= 1);

    assert.deepEqual(
      { ...codecs.raw.decode(seen[0]!.value) },
      { ...rawRecord('old'), context: {} },
    );
  });

  it('delivers values it cannot read unchanged, for the handler to dead-letter', async () => {
    const topic = newTopic();
    await createTopic(env, topic, 1);
    const unknownId = frame(2_000_000_000, rawValue('x'));
    await produceRaw(env, topic, [
      { key: 'k1', value: Buffer.from('not avro at all') },
      { key: 'k2', value: unknownId },
    ]);

    const bus = await busWith(topic);
    const seen: Delivery[] = [];
    await bus.subscribe({ group: unique('g'), topics: [topic], maxBatchRecords: 10 }, async (b) => {
      seen.push(...b);
    });
    await waitFor('both records', () => seen.length >= 2);

    assert.equal(seen[0]!.value.toString(), 'not avro at all');
    assert.deepEqual(seen[1]!.value, unknownId);
    assert.throws(
      () => codecs.raw.decode(seen[0]!.value),
      (err) => isAletheiaError(err, 'RECORD_DECODE_FAILED'),
    );
  });

  it('commits on close and resumes after the last acknowledged record', async () => {
    const topic = newTopic();
    await createTopic(env, topic, 1);
    const bus = await busWith(topic);
    const group = unique('g');
    const firstRun: string[] = [];
    const subscription = await bus.subscribe(
      { group, topics: [topic], maxBatchRecords: 1 },
      async ([delivery]) => {
        const id = nativeIdOf(delivery!);
        firstRun.push(id);
        if (id === '5') throw new Error('cannot store record 5 yet');
      },
    );
    await bus.publish(
      topic,
      Array.from({ length: 8 }, (_, i) => ({ key: 'rss:same', value: rawValue(String(i)) })),
    );
    await waitFor('record 5 tried twice', () => firstRun.filter((id) => id === '5').length >= 2);
    await subscription.close();
    assert.deepEqual(firstRun.slice(0, 6), ['0', '1', '2', '3', '4', '5']);
    assert.equal(firstRun.includes('6'), false, 'nothing after a failed batch is delivered');

    const secondRun: string[] = [];
    await bus.subscribe({ group, topics: [topic], maxBatchRecords: 10 }, async (batch) => {
      secondRun.push(...batch.map(nativeIdOf));
    });
    await waitFor('records 5 to 7', () => secondRun.length >= 3);
    assert.deepEqual(secondRun, ['5', '6', '7']);
  });

  it('reports consumer lag per partition', async () => {
    const topic = newTopic();
    await createTopic(env, topic, 1);
    const bus = await busWith(topic, { lagIntervalMs: 100 });
    const group = unique('g');
    await bus.subscribe({ group, topics: [topic], maxBatchRecords: 1 }, async ([delivery]) => {
      if (Number(nativeIdOf(delivery!)) >= 2) await new Promise(() => {});
    });
    await bus.publish(
      topic,
      Array.from({ length: 6 }, (_, i) => ({ key: 'rss:same', value: rawValue(String(i)) })),
    );

    const lag = async () => {
      const metric = await metrics.getSingleMetric('aletheia_consumer_lag')!.get();
      const series = metric.values.find(
        (v) => v.labels.group === group && v.labels.topic === topic && v.labels.partition === '0',
      );

      return series?.value;
    };
    let value: number | undefined;
    const deadline = Date.now() + 15_000;
    while (value !== 4 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      value = await lag();
    }
    assert.equal(value, 4, 'two records acknowledged of six');
  });

  it('loses nothing when a member joins while batches are in the handler', async () => {
    const topic = newTopic();
    await createTopic(env, topic, 4);
    const group = unique('g');
    const first = await busWith(topic);
    const second = await busWith(topic);
    const handled = { first: new Set<string>(), second: new Set<string>() };
    const slowly = (into: Set<string>) => async (batch: Delivery[]) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (const delivery of batch) into.add(nativeIdOf(delivery));
    };
    await first.subscribe({ group, topics: [topic], maxBatchRecords: 2 }, slowly(handled.first));

    const ids = Array.from({ length: 80 }, (_, i) => String(i));
    await first.publish(
      topic,
      ids.map((id) => ({ key: `rss:${id}`, value: rawValue(id) })),
    );
    await waitFor('the first member to be busy', () => handled.first.size >= 4);
    await second.subscribe({ group, topics: [topic], maxBatchRecords: 2 }, slowly(handled.second));

    await waitFor(
      'every record handled by one member or the other',
      () => ids.every((id) => handled.first.has(id) || handled.second.has(id)),
      60_000,
    );
    assert.ok(handled.second.size > 0, 'the member that joined took partitions over');
  });

  it('shares partitions in a group; a killed member’s records go to the other', async () => {
    const topic = newTopic();
    await createTopic(env, topic, 4);
    const group = unique('g');
    const bus = await busWith(topic);

    const member = fork(new URL('./kafka-member.ts', import.meta.url), [topic, group], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const memberPartitions = new Set<number>();
    let memberReady = false;
    member.on('message', (message: { type: string; records?: { partition: number }[] }) => {
      if (message.type === 'ready') memberReady = true;
      for (const record of message.records ?? []) memberPartitions.add(record.partition);
    });
    try {
      await waitFor('the other member to join', () => memberReady);

      const seen = new Map<string, number>();
      await bus.subscribe({ group, topics: [topic], maxBatchRecords: 5 }, async (batch) => {
        for (const delivery of batch) seen.set(nativeIdOf(delivery), delivery.partition);
      });
      await waitForStableGroup(group, 2);

      const ids = Array.from({ length: 40 }, (_, i) => String(i));
      await bus.publish(
        topic,
        ids.map((id) => ({ key: `rss:${id}`, value: rawValue(id) })),
      );
      await waitFor(
        'both members to get records',
        () => memberPartitions.size > 0 && seen.size > 0,
      );
      const survivorPartitions = new Set(seen.values());
      for (const partition of memberPartitions)
        assert.equal(survivorPartitions.has(partition), false);

      // several commit intervals: had the member committed what it never acknowledged, the
      // survivor would start after those records and miss them
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      member.kill('SIGKILL');
      await waitFor('every record at the survivor', () => ids.every((id) => seen.has(id)), 60_000);
      for (const partition of memberPartitions) {
        assert.ok([...seen.values()].includes(partition), `partition ${partition} taken over`);
      }
    } finally {
      member.kill('SIGKILL');
    }
  });
});

async function waitForStableGroup(group: string, members: number): Promise<void> {
  const { Admin } = await import('@platformatic/kafka');
  const admin = new Admin({ clientId: 'aletheia-test', bootstrapBrokers: env.brokers });
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const described = (await admin.describeGroups({ groups: [group] })).get(group);
      if (described?.state.toLowerCase() === 'stable' && described.members.size === members) return;
      if (Date.now() > deadline) throw new Error(`group ${group} did not settle with ${members}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await admin.close();
  }
}
