/**
 * Options of the Kafka bus: one schema that validates them, fills in defaults and documents
 * each one. Unknown keys are refused, so a misspelt option fails at start instead of silently
 * keeping its default.
 */
import { z } from 'zod';

import { AletheiaError } from '../errors.ts';
import type { Logger } from '../log.ts';

const ms = (fallback: number) => z.number().int().positive().default(fallback);

export const kafkaBusOptionsSchema = z.strictObject({
  /** Bootstrap brokers, `host:port`. */
  brokers: z.array(z.string().regex(/^\S+:\d+$/, 'expected host:port')).min(1),
  /** Client id sent to the brokers; consumers append their group. */
  clientId: z.string().regex(/^[A-Za-z0-9._-]+$/, 'expected letters, digits, . _ -'),
  /** Confluent-compatible schema registry API, e.g. http://host:8081 or Apicurio's ccompat/v7. */
  schemaRegistryUrl: z.url(),
  /** Settings of the topics `ensureTopics` creates. Existing topics are left as they are. */
  topicDefaults: z.strictObject({
    partitions: z.number().int().positive(),
    replicationFactor: z.number().int().positive(),
    /** retention.ms of created topics; -1 keeps records forever. */
    retentionMs: z.number().int().min(-1),
  }),
  log: z.custom<Logger>(
    (value) => typeof (value as Logger | undefined)?.child === 'function',
    'expected a pino logger',
  ),
  /** A consumer silent for this long is considered dead and its partitions reassigned. */
  sessionTimeoutMs: ms(30_000),
  heartbeatIntervalMs: ms(3_000),
  /** How long the group waits for every member to rejoin during a rebalance. */
  rebalanceTimeoutMs: ms(60_000),
  /** Longest a fetch request waits at the broker for new records. */
  fetchMaxWaitMs: ms(500),
  /** How often acknowledged offsets are committed (they are also committed on revoke and stop). */
  commitIntervalMs: ms(1_000),
  /** How long `stop`/`close` may take to stop fetching, drain the handler, commit and leave. */
  drainTimeoutMs: ms(10_000),
  /** How long a revoked partition's in-flight batches may finish before their offsets commit. */
  revokeTimeoutMs: ms(5_000),
  /** Fetched records waiting for the handler, per subscription, before fetching pauses. */
  maxBufferedRecords: z.number().int().positive().default(5_000),
  /** How often consumer lag is measured for the metrics. */
  lagIntervalMs: ms(15_000),
  /** Timeout of one request to a broker. */
  requestTimeoutMs: ms(30_000),
  /** Attempts per broker request before it fails (connection errors, leader changes). */
  requestRetries: z.number().int().min(0).default(5),
  /** Largest produce request; bigger publishes are split, in order (keep < message.max.bytes). */
  maxRequestBytes: z.number().int().positive().default(900_000),
  /** Timeout of one request to the schema registry. */
  registryTimeoutMs: ms(10_000),
});

export type KafkaBusOptions = z.input<typeof kafkaBusOptionsSchema>;
export type ResolvedKafkaBusOptions = z.output<typeof kafkaBusOptionsSchema>;

export function resolveKafkaBusOptions(options: KafkaBusOptions): ResolvedKafkaBusOptions {
  const parsed = kafkaBusOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ');
    throw new AletheiaError('CONFIG_INVALID', `Kafka bus options are invalid: ${problems}`);
  }

  return parsed.data;
}
