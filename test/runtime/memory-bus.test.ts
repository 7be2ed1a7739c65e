import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { Delivery } from '../../runtime/bus.ts';
import { isAletheiaError } from '../../runtime/errors.ts';
import { MemoryBus } from '../../runtime/memory-bus.ts';

const record = (key: string, text = key) => ({ key, value: Buffer.from(text) });

async function busWith(options: { partitions?: number; queueMaxRecords?: number } = {}) {
  const bus = new MemoryBus({
    partitions: options.partitions ?? 2,
    queueMaxRecords: options.queueMaxRecords ?? 100,
  });
  await bus.start();
  await bus.ensureTopics(['t']);

  return bus;
}

function deferred() {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));

  return { promise, release };
}

describe('MemoryBus', () => {
  it('resolves publish only after the consumer acknowledged', async () => {
    const bus = await busWith();
    const gate = deferred();
    const seen: string[] = [];
    await bus.subscribe({ group: 'g', topics: ['t'], maxBatchRecords: 10 }, async (batch) => {
      await gate.promise;
      seen.push(...batch.map((delivery) => delivery.value.toString()));
    });

    let published = false;
    const publishing = bus.publish('t', [record('a'), record('b')]).then(() => (published = true));
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(published, false);

    gate.release();
    await publishing;
    assert.deepEqual(seen.sort(), ['a', 'b']);
    await bus.stop();
  });

  it('keeps records of one key in order within their partition', async () => {
    const bus = await busWith({ partitions: 3 });
    const seen: string[] = [];
    await bus.subscribe({ group: 'g', topics: ['t'], maxBatchRecords: 2 }, async (batch) => {
      seen.push(...batch.map((delivery) => delivery.value.toString()));
    });

    await bus.publish(
      't',
      Array.from({ length: 20 }, (_, i) => record('same-key', String(i))),
    );
    assert.deepEqual(
      seen,
      Array.from({ length: 20 }, (_, i) => String(i)),
    );
    await bus.stop();
  });

  it('redelivers a batch whose handler failed, with the attempt counted', async () => {
    const bus = await busWith();
    const attempts: number[] = [];
    await bus.subscribe({ group: 'g', topics: ['t'], maxBatchRecords: 10 }, async (batch) => {
      attempts.push(batch[0]!.attempt);
      if (attempts.length < 3) throw new Error('store down');
    });

    await bus.publish('t', [record('a')]);
    assert.deepEqual(attempts, [1, 2, 3]);
    await bus.stop();
  });

  it('waits for every consumer group before resolving', async () => {
    const bus = await busWith();
    const slow = deferred();
    let fastCount = 0;
    await bus.subscribe({ group: 'fast', topics: ['t'], maxBatchRecords: 10 }, async (batch) => {
      fastCount += batch.length;
    });
    await bus.subscribe({ group: 'slow', topics: ['t'], maxBatchRecords: 10 }, () => slow.promise);

    let published = false;
    const publishing = bus.publish('t', [record('a')]).then(() => (published = true));
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(fastCount, 1);
    assert.equal(published, false);

    slow.release();
    await publishing;
    await bus.stop();
  });

  it('makes publishers wait while a group has a full queue', async () => {
    const bus = await busWith({ partitions: 1, queueMaxRecords: 3 });
    const gate = deferred();
    const delivered: Delivery[] = [];
    await bus.subscribe({ group: 'g', topics: ['t'], maxBatchRecords: 1 }, async (batch) => {
      await gate.promise;
      delivered.push(...batch);
    });

    const accepted: number[] = [];
    const publishing = Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        bus.publish('t', [record(`k${i}`)]).then(() => accepted.push(i)),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(delivered.length, 0);
    assert.equal(accepted.length, 0);

    gate.release();
    await publishing;
    assert.equal(delivered.length, 10);
    await bus.stop();
  });

  it('runs several batches of one partition at once when allowed', async () => {
    const bus = await busWith({ partitions: 1 });
    let concurrent = 0;
    let peak = 0;
    await bus.subscribe(
      { group: 'g', topics: ['t'], maxBatchRecords: 2, maxInFlightBatches: 4 },
      async () => {
        concurrent += 1;
        peak = Math.max(peak, concurrent);
        await new Promise((resolve) => setTimeout(resolve, 20));
        concurrent -= 1;
      },
    );

    await bus.publish(
      't',
      Array.from({ length: 16 }, (_, i) => record(`k${i}`)),
    );
    assert.equal(peak, 4);
    await bus.stop();
  });

  it('fails pending publishes when stopped, so sources do not checkpoint them', async () => {
    const bus = await busWith();
    await bus.subscribe({ group: 'g', topics: ['t'], maxBatchRecords: 10 }, async () => {
      throw new Error('never succeeds');
    });

    const publishing = bus.publish('t', [record('a')]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await bus.stop();
    await assert.rejects(publishing, (err) => isAletheiaError(err, 'COMPONENT_STOPPED'));
  });

  it('refuses unknown topics and resolves at once when nobody subscribes', async () => {
    const bus = await busWith();
    await assert.rejects(bus.publish('nope', [record('a')]), /unknown topic nope/);
    await bus.publish('t', [record('a')]);
    await bus.stop();
  });

  it('holds concurrent publishers to the queue bound', async () => {
    // Publishers waiting together once all passed the space check and overfilled the queue.
    const bus = await busWith({ partitions: 1, queueMaxRecords: 2 });
    const gate = deferred();
    let peak = 0;
    await bus.subscribe({ group: 'g', topics: ['t'], maxBatchRecords: 1 }, async (batch) => {
      await gate.promise;
      peak = Math.max(peak, batch.length);
    });

    const publishing = Promise.all(
      Array.from({ length: 6 }, (_, i) => bus.publish('t', [record(`k${i}`)])),
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    const held = (
      bus as unknown as { subscriptions: Set<{ queues: Map<string, { entries: unknown[] }[]> }> }
    ).subscriptions;
    const [subscription] = [...held];
    assert.equal(subscription?.queues.get('t')?.[0]?.entries.length, 2);

    gate.release();
    await publishing;
    await bus.stop();
  });

  it('fails a publish waiting for space when its consumer group closes', async () => {
    // The waiting publisher once pushed into the abandoned queue and never settled.
    const bus = await busWith({ partitions: 1, queueMaxRecords: 1 });
    const subscription = await bus.subscribe(
      { group: 'g', topics: ['t'], maxBatchRecords: 1 },
      () => new Promise(() => {}),
    );
    const first = bus.publish('t', [record('a')]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const second = bus.publish('t', [record('b')]);
    await new Promise((resolve) => setTimeout(resolve, 10));

    await (subscription as unknown as { drain(ms: number): Promise<void> }).drain(50);
    await assert.rejects(first, (err) => isAletheiaError(err, 'COMPONENT_STOPPED'));
    await assert.rejects(second, (err) => isAletheiaError(err, 'COMPONENT_STOPPED'));
    await bus.stop();
  });
});
