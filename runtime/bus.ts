/**
 * The bus contract every connector, processor and sink talks to. Two implementations exist:
 * the in-process bus (`memory-bus.ts`, the embedded default) and Kafka. No component may know
 * which one runs.
 *
 * Semantics, identical for both:
 * - Topics are split into partitions; a record's key picks its partition, so records with one
 *   key are handled in order.
 * - `publish` resolves once the records are safe: committed to the log (Kafka), or acknowledged
 *   by every consumer group subscribed to the topic (in-process, where memory is not durable).
 *   A source therefore advances its checkpoint only after `publish` resolves.
 * - A subscription hands batches from one partition to its handler. The handler resolving
 *   acknowledges the whole batch; the handler throwing negatively acknowledges it, and the
 *   batch is delivered again after a backoff (at-least-once). A handler deals with bad
 *   individual records itself, by dead-lettering them, so a throw means "try again later".
 * - Queues are bounded: a publisher waits while a consumer group is too far behind.
 */

import { backoffMs } from './lifecycle.ts';

export type Headers = Record<string, string>;

export interface OutgoingRecord {
  key: string;
  value: Buffer;
  headers?: Headers;
}

export interface Delivery {
  topic: string;
  partition: number;
  /** Position in the partition, as a decimal string (Kafka offsets exceed 2^53). */
  offset: string;
  key: string;
  value: Buffer;
  headers: Headers;
  /** 1 on first delivery, incremented on every redelivery after a failed handler. */
  attempt: number;
}

export type BatchHandler = (batch: Delivery[]) => Promise<void>;

export interface SubscribeOptions {
  /** Consumer group: subscriptions with one group share the partitions between them. */
  group: string;
  topics: string[];
  /** Largest batch handed to the handler at once. */
  maxBatchRecords: number;
  /**
   * Batches of one partition in the handler at once. 1 keeps records of one key in order;
   * more lets a batching sink fill its buffer while earlier batches are being written.
   */
  maxInFlightBatches?: number;
}

export interface Subscription {
  /** Stops fetching, waits for batches in the handler to finish, then closes. */
  close(): Promise<void>;
}

export interface Bus {
  readonly kind: 'memory' | 'kafka';
  start(): Promise<void>;
  /** Stops every subscription (draining in-flight batches) and closes connections. */
  stop(): Promise<void>;
  /** Creates topics that do not exist yet. Publishing to an unknown topic is an error. */
  ensureTopics(topics: string[]): Promise<void>;
  publish(topic: string, records: OutgoingRecord[]): Promise<void>;
  subscribe(options: SubscribeOptions, handler: BatchHandler): Promise<Subscription>;
  /** Whether the bus can currently publish and deliver. */
  healthy(): Promise<boolean>;
}

/** Delay before redelivering a batch whose handler failed for the given attempt. */
export function redeliveryDelayMs(attempt: number, baseMs = 200, maxMs = 30_000): number {
  return backoffMs(attempt, baseMs, maxMs);
}

/** Partition of a key: FNV-1a over the UTF-8 bytes, stable across processes and restarts. */
export function partitionOf(key: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }

  return (hash >>> 0) % partitions;
}
