/**
 * Measuring helpers of the Kafka pipeline benchmark: publishing a packed input with several
 * concurrent publishers, waiting for a count of consumed records, timing a phase with the
 * CPU time of this process and of the local broker (read from /proc, when the stack's pid
 * file is found), and the offsets needed to count only the records of the current run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Admin } from '@platformatic/kafka';

import type { OutgoingRecord } from '../../runtime/bus.ts';
import type { PackedRecords } from './kafka-feed-items.ts';
import { profiled } from './profile.ts';

export interface PhaseResult {
  name: string;
  records: number;
  elapsedMs: number;
  /** CPU time of this process (every thread) during the phase. */
  cpuMs: number;
  /** CPU time of the broker's JVM during the phase; undefined when its pid is unknown. */
  brokerCpuMs: number | undefined;
  /** Records consumed twice (redeliveries); they do not count towards `records`. */
  duplicates: number;
}

/** Publishes every record in chunks of `batch`, `publishers` publishes in flight at most. */
export async function publishAll(
  input: PackedRecords,
  batch: number,
  publishers: number,
  publish: (records: OutgoingRecord[]) => Promise<void>,
): Promise<void> {
  let next = 0;
  const publisher = async (): Promise<void> => {
    while (next < input.count) {
      const start = next;
      next = Math.min(input.count, next + batch);
      await publish(input.slice(start, next));
    }
  };

  await Promise.all(Array.from({ length: publishers }, publisher));
}

/**
 * Resolves once `expected` distinct records were seen, told apart by key (every input record
 * has its own). Records delivered again (the bus delivers at least once) or written twice
 * (a batch of the stage handled again) are counted apart, not twice.
 */
export class Countdown {
  readonly done: Promise<void>;
  duplicates = 0;
  private readonly expected: number;
  private readonly seen = new Set<string>();
  private resolve!: () => void;

  constructor(expected: number) {
    this.expected = expected;
    this.done = new Promise<void>((resolve) => (this.resolve = resolve));
  }

  get count(): number {
    return this.seen.size;
  }

  add(key: string): void {
    if (this.seen.has(key)) {
      this.duplicates += 1;
      return;
    }

    this.seen.add(key);
    if (this.seen.size === this.expected) this.resolve();
  }

  /** Fails the wait when nothing completes it within `timeoutMs`. */
  within(timeoutMs: number, what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((_, reject) => {
      timer = setTimeout(() => {
        const counted = `${this.seen.size} of ${this.expected} records`;
        reject(new Error(`${what}: ${counted} after ${timeoutMs} ms`));
      }, timeoutMs);
    });

    const waiting = Promise.race([this.done, timedOut]).finally(() => clearTimeout(timer));
    // awaited only once publishing is over: a timeout before that must not go unhandled
    waiting.catch(() => {});

    return waiting;
  }
}

/** The broker's pid from the stack's pid file, when ALETHEIA_STACK_HOME points at it. */
function brokerPid(): number | undefined {
  const home = process.env.ALETHEIA_STACK_HOME;
  if (!home) return undefined;
  try {
    const pid = Number(readFileSync(join(home, 'run', 'kafka.pid'), 'utf8').trim());

    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** User plus system CPU time of a process, from /proc (clock ticks of 10 ms on Linux). */
function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name, which is in parentheses and may hold spaces
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');

    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** Times `work`, under the profiler when `profileDir` is set, and what it consumed. */
export async function timePhase(
  name: string,
  countdown: Countdown,
  profileDir: string | undefined,
  work: () => Promise<void>,
): Promise<PhaseResult> {
  const pid = brokerPid();
  const brokerBefore = processCpuMs(pid);
  const cpu = process.cpuUsage();
  const started = performance.now();
  await profiled(profileDir, name, work);
  const elapsedMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const brokerAfter = processCpuMs(pid);

  return {
    name,
    records: countdown.count,
    elapsedMs,
    cpuMs: (used.user + used.system) / 1000,
    brokerCpuMs:
      brokerBefore === undefined || brokerAfter === undefined
        ? undefined
        : brokerAfter - brokerBefore,
    duplicates: countdown.duplicates,
  };
}

/** Offset after the last record of each partition of `topic`. */
export async function endOffsets(admin: Admin, topic: string): Promise<Map<number, bigint>> {
  const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
  const partitions = metadata.topics.get(topic)?.partitionsCount ?? 0;
  const [listed] = await admin.listOffsets({
    topics: [
      {
        name: topic,
        partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({
          partitionIndex,
          timestamp: -1n,
        })),
      },
    ],
  });

  return new Map((listed?.partitions ?? []).map((p) => [p.partitionIndex, p.offset]));
}

/** Records of `topic` the group has not committed yet. */
export async function backlog(admin: Admin, group: string, topic: string): Promise<bigint> {
  const ends = await endOffsets(admin, topic);
  const [offsets] = await admin.listConsumerGroupOffsets({ groups: [group] });
  const committed = new Map<number, bigint>();
  for (const { name, partitions } of offsets?.topics ?? []) {
    if (name !== topic) continue;
    for (const p of partitions) committed.set(p.partitionIndex, p.committedOffset);
  }

  let behind = 0n;
  for (const [partition, end] of ends) {
    const from = committed.get(partition) ?? -1n;
    behind += end - (from < 0n ? 0n : from);
  }

  return behind;
}
