/**
 * A consumer group member in its own process, for tests that kill it: it subscribes to the
 * topic given on the command line, reports every batch it receives to the parent over IPC and
 * never acknowledges one, so whatever it holds is lost unless another member takes over.
 *
 *   node test/integration/kafka-member.ts <topic> <group>
 */
import { KafkaBus } from '../../runtime/kafka/bus.ts';
import { stackEnv, testBusOptions } from './kafka-stack.ts';

const [topic, group] = process.argv.slice(2);
if (!topic || !group || !process.send) {
  throw new Error('usage: fork kafka-member.ts <topic> <group> with an IPC channel');
}

const bus = new KafkaBus(testBusOptions(stackEnv(), { clientId: 'aletheia-test-member' }));
await bus.start();
await bus.subscribe({ group, topics: [topic], maxBatchRecords: 5 }, (batch) => {
  process.send!({
    type: 'batch',
    records: batch.map(({ partition, offset }) => ({ partition, offset })),
  });

  return new Promise<void>(() => {});
});
process.send({ type: 'ready' });
