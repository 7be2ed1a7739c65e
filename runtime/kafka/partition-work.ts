/**
 * One assigned partition as a subscription sees it: records fetched but not yet handed out,
 * batches in the handler, and the offset that may be committed. Batches are cut in offset
 * order; the committable offset is the end of the longest run of acknowledged batches from
 * the front, so a batch still in the handler (or failed) holds back every later one, and a
 * restart resumes at the first record not acknowledged.
 */
import type { Delivery } from '../bus.ts';

export interface Batch {
  deliveries: Delivery[];
  /** Offset after the batch's last record: what is committed once it and all before it acked. */
  endOffset: bigint;
  leaderEpoch: number;
  state: 'handling' | 'acked' | 'abandoned';
}

export interface Committable {
  offset: bigint;
  leaderEpoch: number;
}

interface Fetched {
  delivery: Delivery;
  offset: bigint;
  leaderEpoch: number;
}

export class PartitionWork {
  readonly topic: string;
  readonly partition: number;
  /** False once the partition was revoked or the subscription closes: nothing new is handed out. */
  active = true;
  inFlight = 0;
  committable: Committable | undefined;
  private pending: Fetched[] = [];
  /** Handed-out batches not yet folded into `committable`, oldest first. */
  private readonly outstanding: Batch[] = [];
  /** Offset after the last record accepted; older records are ones this work already holds. */
  private nextOffset: bigint | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(topic: string, partition: number) {
    this.topic = topic;
    this.partition = partition;
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  /** Queues a fetched record; false for one this work has already seen (a refetch). */
  accept(delivery: Delivery, offset: bigint, leaderEpoch: number): boolean {
    if (!this.active) return false;
    if (this.nextOffset !== undefined && offset < this.nextOffset) return false;

    this.nextOffset = offset + 1n;
    this.pending.push({ delivery, offset, leaderEpoch });

    return true;
  }

  takeBatch(maxRecords: number): Batch | undefined {
    if (!this.active || this.pending.length === 0) return undefined;

    const taken = this.pending.splice(0, maxRecords);
    const last = taken[taken.length - 1]!;
    const batch: Batch = {
      deliveries: taken.map((fetched) => fetched.delivery),
      endOffset: last.offset + 1n,
      leaderEpoch: last.leaderEpoch,
      state: 'handling',
    };
    this.outstanding.push(batch);
    this.inFlight += 1;

    return batch;
  }

  ack(batch: Batch): void {
    batch.state = 'acked';
    while (this.outstanding[0]?.state === 'acked') {
      const done = this.outstanding.shift()!;
      this.committable = { offset: done.endOffset, leaderEpoch: done.leaderEpoch };
    }
    this.finish();
  }

  /** Gives a batch up unacknowledged: its records are redelivered by whoever owns it next. */
  abandon(batch: Batch): void {
    batch.state = 'abandoned';
    this.finish();
  }

  /** Stops handing out records; returns how many fetched records were dropped. */
  deactivate(): number {
    this.active = false;
    const dropped = this.pending.length;
    this.pending = [];

    return dropped;
  }

  /** Resolves once no batch is in the handler, or after `timeoutMs`. */
  async idle(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return;

    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
  }

  private finish(): void {
    this.inFlight -= 1;
    if (this.inFlight > 0) return;

    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
