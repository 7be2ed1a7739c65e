/**
 * Consumer lag of one subscription, per assigned partition: the partition's high watermark
 * minus the group's committed offset (or minus the log start when nothing was committed yet),
 * published as the `aletheia_consumer_lag` gauge. Each subscription reports only the
 * partitions it owns, and removes its series when it loses them, so the sum over a group's
 * members is the group's lag.
 */
import type { Consumer } from '@platformatic/kafka';

import type { Logger } from '../log.ts';
import { consumerLag } from '../metrics.ts';

const earliest = -2n;

export interface OwnedPartition {
  topic: string;
  partition: number;
}

export class LagMonitor {
  private readonly consumer: Consumer<string, Buffer, string, string>;
  private readonly group: string;
  private readonly owned: () => OwnedPartition[];
  private readonly log: Logger;
  private readonly reported = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private measuring = false;
  private stopped = false;

  constructor(
    consumer: Consumer<string, Buffer, string, string>,
    group: string,
    owned: () => OwnedPartition[],
    log: Logger,
  ) {
    this.consumer = consumer;
    this.group = group;
    this.owned = owned;
    this.log = log;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.measure(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const series of this.reported) this.remove(series);
    this.reported.clear();
  }

  /** Measures once; failures only log, the next interval tries again. */
  async measure(): Promise<void> {
    if (this.measuring) return;
    this.measuring = true;
    try {
      await this.update(this.owned());
    } catch (err) {
      this.log.warn({ err, group: this.group }, 'measuring consumer lag failed');
    } finally {
      this.measuring = false;
    }
  }

  private async update(owned: OwnedPartition[]): Promise<void> {
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of owned) {
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    }

    const current = new Set<string>();
    if (byTopic.size > 0) {
      const topics = [...byTopic.keys()];
      const partitions = Object.fromEntries(byTopic);
      const [ends, starts, committed] = await Promise.all([
        this.consumer.listOffsets({ topics, partitions }),
        this.consumer.listOffsets({ topics, partitions, timestamp: earliest }),
        this.consumer.listCommittedOffsets({
          topics: [...byTopic].map(([topic, list]) => ({ topic, partitions: list })),
        }),
      ]);
      if (this.stopped) return;

      for (const { topic, partition } of owned) {
        const end = ends.get(topic)?.[partition];
        if (end === undefined) continue;
        const done = committed.get(topic)?.[partition];
        const from =
          done !== undefined && done >= 0n ? done : (starts.get(topic)?.[partition] ?? 0n);
        const lag = end > from ? Number(end - from) : 0;
        consumerLag.set({ group: this.group, topic, partition: String(partition) }, lag);
        current.add(`${topic}\u0000${partition}`);
      }
    }

    for (const series of this.reported) if (!current.has(series)) this.remove(series);
    this.reported.clear();
    for (const series of current) this.reported.add(series);
  }

  private remove(series: string): void {
    const [topic, partition] = series.split('\u0000');
    consumerLag.remove({ group: this.group, topic, partition });
  }
}
