/**
 * Offset commits of one subscription: every `intervalMs`, and whenever asked (on revoke and
 * close), the committable offset of each partition (see partition-work.ts) is committed if it
 * moved. One commit runs at a time; a failed commit is only logged and counted, since the
 * next one carries the same offsets or later ones.
 */
import type { Consumer } from '@platformatic/kafka';

import type { Logger } from '../log.ts';
import { busCommitErrors } from '../metrics.ts';
import type { PartitionWork } from './partition-work.ts';
import { describeKafkaError } from './producer.ts';

export class OffsetCommitter {
  private readonly consumer: Consumer<string, Buffer, string, string>;
  private readonly group: string;
  private readonly partitions: () => Iterable<PartitionWork>;
  private readonly log: Logger;
  /** Never commit a partition backwards from what this subscription committed itself. */
  private readonly committed = new Map<string, bigint>();
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    consumer: Consumer<string, Buffer, string, string>,
    group: string,
    partitions: () => Iterable<PartitionWork>,
    log: Logger,
  ) {
    this.consumer = consumer;
    this.group = group;
    this.partitions = partitions;
    this.log = log;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.commit(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Commits what moved; resolves once this and every earlier commit finished. */
  commit(): Promise<void> {
    this.chain = this.chain.then(() => this.commitOnce());

    return this.chain;
  }

  private async commitOnce(): Promise<void> {
    const offsets = [];
    for (const work of this.partitions()) {
      const key = `${work.topic}:${work.partition}`;
      const committable = work.committable;
      if (!committable || committable.offset <= (this.committed.get(key) ?? -1n)) continue;
      offsets.push({ topic: work.topic, partition: work.partition, ...committable });
    }
    if (offsets.length === 0) return;

    try {
      await this.consumer.commit({ offsets });
      for (const { topic, partition, offset } of offsets) {
        this.committed.set(`${topic}:${partition}`, offset);
      }
      this.log.debug({ partitions: offsets.length }, 'offsets committed');
    } catch (err) {
      busCommitErrors.inc({ group: this.group });
      this.log.warn({ err, reason: describeKafkaError(err) }, 'committing offsets failed');
    }
  }
}

/** Waits for `work` at most `timeoutMs`; a late failure is ignored, not left unhandled. */
export async function withTimeout(work: Promise<unknown>, timeoutMs: number): Promise<void> {
  work.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
}
