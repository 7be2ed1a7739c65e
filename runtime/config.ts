/**
 * Configuration: one schema that reads the environment, validates every value, fills in
 * defaults and documents each field. Every variable the system reads is prefixed `ALETHEIA_`
 * (except `PORT`, honoured for platforms that set it); an unknown `ALETHEIA_` variable is an
 * error, because a typo silently falling back to a default is worse than refusing to start.
 */
import { z } from 'zod';

import { AletheiaError } from './errors.ts';

const list = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean),
);

const flag = z
  .enum(['true', 'false', '1', '0'])
  .transform((value) => value === 'true' || value === '1');

const positiveInt = z.coerce.number().int().positive();

/** Brazilian outlets with public RSS feeds, ingested when no feeds are configured. */
export const defaultFeeds = [
  'https://g1.globo.com/rss/g1/politica/',
  'https://www.camara.leg.br/noticias/rss/ultimas-noticias',
  'https://agenciabrasil.ebc.com.br/rss/politica/feed.xml',
  'https://www12.senado.leg.br/noticias/rss',
];

/**
 * Public figures tracked by default: Luiz Inácio Lula da Silva and Jair Bolsonaro, the two
 * most fact-checked Brazilian politicians. Operators list their own set.
 */
export const defaultTrackedEntities = ['Q37181', 'Q10304982'];

/** Each field: environment variable name, schema with default, and what it is for. */
const fields = {
  port: [
    'PORT',
    z.coerce.number().int().min(0).max(65535).default(8080),
    'TCP port the API listens on (0 picks a free one).',
  ],
  host: ['ALETHEIA_HOST', z.string().default('127.0.0.1'), 'Address the API binds to.'],
  dataDir: [
    'ALETHEIA_DATA_DIR',
    z.string().default('./data'),
    'Folder for checkpoints, the embedded analytics store and local object storage.',
  ],
  logLevel: [
    'ALETHEIA_LOG_LEVEL',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    'Minimum level of log lines written to stdout.',
  ],
  demo: [
    'ALETHEIA_DEMO',
    flag.default(false),
    'Replay the sample feeds and entities bundled in demo/ instead of the real sources.',
  ],
  feeds: [
    'ALETHEIA_FEEDS',
    list.default(defaultFeeds),
    'Comma-separated RSS/Atom feed URLs to ingest.',
  ],
  feedPollIntervalMs: [
    'ALETHEIA_FEED_POLL_INTERVAL_MS',
    positiveInt.default(300_000),
    'How often each feed is fetched.',
  ],
  trackedEntities: [
    'ALETHEIA_TRACKED_ENTITIES',
    list
      .pipe(z.array(z.string().regex(/^Q[1-9]\d*$/, 'expected a QID like Q42')))
      .default(defaultTrackedEntities),
    'Comma-separated Wikidata QIDs whose entities are fetched and linked in article text.',
  ],
  wikidataApiUrl: [
    'ALETHEIA_WIKIDATA_API_URL',
    z.url().default('https://www.wikidata.org/w/api.php'),
    'MediaWiki Action API endpoint of the Wikibase instance.',
  ],
  wikidataRefreshIntervalMs: [
    'ALETHEIA_WIKIDATA_REFRESH_INTERVAL_MS',
    positiveInt.default(3_600_000),
    'How often tracked entities are fetched again.',
  ],
  wikidataMaxlagSeconds: [
    'ALETHEIA_WIKIDATA_MAXLAG_SECONDS',
    positiveInt.default(5),
    'maxlag sent to Wikidata: requests are refused while replication lag is higher.',
  ],
  contact: [
    'ALETHEIA_CONTACT',
    z.string().min(3).default('https://github.com/aletheia-fact/aletheia'),
    'Contact (URL or e-mail) sent in the User-Agent, as Wikimedia policy asks.',
  ],
  httpTimeoutMs: [
    'ALETHEIA_HTTP_TIMEOUT_MS',
    positiveInt.default(15_000),
    'Timeout of one outbound request, body included.',
  ],
  httpMaxBodyBytes: [
    'ALETHEIA_HTTP_MAX_BODY_BYTES',
    positiveInt.default(10 * 1024 * 1024),
    'Largest response body accepted from a source, after decompression.',
  ],
  httpMaxRedirects: [
    'ALETHEIA_HTTP_MAX_REDIRECTS',
    z.coerce.number().int().min(0).max(20).default(5),
    'Redirects followed before a fetch fails.',
  ],
  allowPrivateNetworks: [
    'ALETHEIA_ALLOW_PRIVATE_NETWORKS',
    flag.default(false),
    'Allow outbound requests to loopback and private addresses (sources on an intranet).',
  ],
  allowedHosts: [
    'ALETHEIA_ALLOWED_HOSTS',
    list.default([]),
    'host[:port] entries reachable even when they resolve to a private address.',
  ],
  clickhouseUrl: [
    'ALETHEIA_CLICKHOUSE_URL',
    z.url().optional(),
    'ClickHouse server URL. Unset: the embedded chDB store under the data directory.',
  ],
  clickhouseUser: ['ALETHEIA_CLICKHOUSE_USER', z.string().default('default'), 'ClickHouse user.'],
  clickhousePassword: [
    'ALETHEIA_CLICKHOUSE_PASSWORD',
    z.string().default(''),
    'ClickHouse password.',
  ],
  clickhouseDatabase: [
    'ALETHEIA_CLICKHOUSE_DATABASE',
    z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .default('aletheia'),
    'ClickHouse database holding the analytics tables.',
  ],
  sinkBatchMaxRows: [
    'ALETHEIA_SINK_BATCH_MAX_ROWS',
    positiveInt.default(10_000),
    'Rows written to the analytics store in one insert at most.',
  ],
  sinkLingerMs: [
    'ALETHEIA_SINK_LINGER_MS',
    z.coerce.number().int().min(0).default(200),
    'How long the sink waits for a batch to fill before writing it.',
  ],
  roles: [
    'ALETHEIA_ROLES',
    list.pipe(z.array(z.enum(['all', 'ingest', 'process', 'sink', 'api'])).min(1)).default(['all']),
    'Stages this process runs: all, or a comma-separated subset of ingest, process, sink, api.',
  ],
  bus: [
    'ALETHEIA_BUS',
    z.enum(['memory', 'kafka']).default('memory'),
    'memory: stages connected inside this process. kafka: through a Kafka cluster.',
  ],
  kafkaBrokers: [
    'ALETHEIA_KAFKA_BROKERS',
    list.default(['127.0.0.1:9092']),
    'Comma-separated host:port bootstrap brokers of the Kafka cluster.',
  ],
  kafkaClientId: [
    'ALETHEIA_KAFKA_CLIENT_ID',
    z.string().min(1).default('aletheia'),
    'Client id sent to Kafka, visible in broker logs and quotas.',
  ],
  schemaRegistryUrl: [
    'ALETHEIA_SCHEMA_REGISTRY_URL',
    z.url().default('http://127.0.0.1:8081'),
    "Base URL of the Confluent-compatible schema registry holding the topics' Avro schemas.",
  ],
  kafkaTopicPartitions: [
    'ALETHEIA_KAFKA_TOPIC_PARTITIONS',
    positiveInt.default(6),
    'Partitions of each topic the system creates; the most processes one stage can spread over.',
  ],
  kafkaReplicationFactor: [
    'ALETHEIA_KAFKA_REPLICATION_FACTOR',
    positiveInt.default(1),
    'Replicas of each topic the system creates.',
  ],
  kafkaRetentionMs: [
    'ALETHEIA_KAFKA_RETENTION_MS',
    positiveInt.default(7 * 24 * 3_600_000),
    'How long Kafka keeps records of the topics the system creates.',
  ],
  kafkaSessionTimeoutMs: [
    'ALETHEIA_KAFKA_SESSION_TIMEOUT_MS',
    z.coerce.number().int().min(6000).default(30_000),
    'A consumer silent this long is presumed dead and its partitions go to the rest of its group.',
  ],
  metricsPort: [
    'ALETHEIA_METRICS_PORT',
    z.coerce.number().int().min(0).max(65535).optional(),
    'Port of a Prometheus endpoint for processes without the API role (API key scope metrics).',
  ],
  busPartitions: [
    'ALETHEIA_BUS_PARTITIONS',
    positiveInt.max(256).default(4),
    'Partitions of each in-process topic; records with one key stay in order.',
  ],
  busQueueMaxRecords: [
    'ALETHEIA_BUS_QUEUE_MAX_RECORDS',
    positiveInt.default(10_000),
    'Records a partition may hold for a consumer group before publishers wait.',
  ],
  apiKeys: [
    'ALETHEIA_API_KEYS',
    list.default([]),
    'API keys as name:secret:scope+scope. Unset: one key is generated into the data directory.',
  ],
  exportMaxRows: [
    'ALETHEIA_EXPORT_MAX_ROWS',
    positiveInt.default(10_000_000),
    'Largest number of rows one export streams.',
  ],
} as const;

type Fields = typeof fields;
export type Config = { [K in keyof Fields]: z.output<Fields[K][1]> };

/** Environment variables the system reads, with their documentation, for the README. */
export function describeConfig(): {
  variable: string;
  description: string;
  defaultValue: string;
}[] {
  return Object.values(fields).map(([variable, schema, description]) => {
    const fallback = (schema as z.ZodType).safeParse(undefined);
    const value = fallback.success ? fallback.data : undefined;
    const defaultValue = Array.isArray(value)
      ? value.join(',')
      : value === undefined
        ? ''
        : String(value);

    return { variable, description, defaultValue };
  });
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const known = new Set<string>(Object.values(fields).map(([variable]) => variable));
  const unknown = Object.keys(env).filter(
    (name) => name.startsWith('ALETHEIA_') && !known.has(name),
  );
  if (unknown.length > 0) {
    throw new AletheiaError(
      'CONFIG_INVALID',
      `unknown configuration variable ${unknown.join(', ')}`,
    );
  }

  const config: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, [variable, schema]] of Object.entries(fields)) {
    const raw = env[variable];
    const parsed = (schema as z.ZodType).safeParse(raw === '' ? undefined : raw);
    if (parsed.success) config[key] = parsed.data;
    else
      problems.push(`${variable}: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  }
  if (problems.length > 0) {
    throw new AletheiaError('CONFIG_INVALID', `invalid configuration: ${problems.join(' | ')}`);
  }

  return config as Config;
}
