/**
 * Wires the system from its configuration: the bus, the analytics store, the sink, the
 * processing stage, the source connectors and the API. Components start downstream first,
 * so nothing is published before its consumers are listening, and stop upstream first, so
 * what is in flight drains into the store.
 */
import type { Server } from 'node:http';

import { parseApiKeys } from './api/auth.ts';
import { startMetricsServer } from './api/metrics-server.ts';
import { createApi } from './api/server.ts';
import { RssConnector } from './ingest/rss.ts';
import { userAgent, WikidataConnector } from './ingest/wikidata.ts';
import { ProcessStage } from './processors/process.ts';
import type { Bus } from './runtime/bus.ts';
import { CheckpointStore } from './runtime/checkpoint.ts';
import type { Config } from './runtime/config.ts';
import type { HttpPolicy } from './runtime/http.ts';
import { AletheiaError } from './runtime/errors.ts';
import { Lifecycle } from './runtime/lifecycle.ts';
import type { Logger } from './runtime/log.ts';
import { MemoryBus } from './runtime/memory-bus.ts';
import { allTopics } from './schemas/topics.ts';
import { createAnalyticsStore, type AnalyticsStore } from './sinks/clickhouse/client.ts';
import { ClickHouseSink } from './sinks/clickhouse/sink.ts';

export const version = '0.1.0';

export type Role = 'ingest' | 'process' | 'sink' | 'api';

export interface App {
  bus: Bus;
  roles: ReadonlySet<Role>;
  lifecycle: Lifecycle;
  /** The analytics store, in processes running the sink or the API. */
  store?: AnalyticsStore;
  /** The API server and its address (http://127.0.0.1:8080), in processes running the API. */
  server?: Server;
  url?: string;
  stop(): Promise<void>;
}

export function rolesOf(config: Config): Set<Role> {
  const all: Role[] = ['ingest', 'process', 'sink', 'api'];
  const roles = new Set(config.roles.includes('all') ? all : (config.roles as Role[]));

  if (config.bus === 'memory' && roles.size < all.length) {
    throw new AletheiaError(
      'CONFIG_INVALID',
      `ALETHEIA_ROLES=${config.roles.join(',')} needs ALETHEIA_BUS=kafka: ` +
        'the in-process bus only connects stages running in the same process',
    );
  }

  return roles;
}

async function createBus(config: Config, log: Logger): Promise<Bus> {
  if (config.bus === 'memory') {
    return new MemoryBus({
      partitions: config.busPartitions,
      queueMaxRecords: config.busQueueMaxRecords,
    });
  }

  // Loaded on demand so the embedded default never loads the Kafka client.
  const { KafkaBus } = await import('./runtime/kafka/bus.ts');

  return new KafkaBus({
    brokers: config.kafkaBrokers,
    clientId: config.kafkaClientId,
    schemaRegistryUrl: config.schemaRegistryUrl,
    topicDefaults: {
      partitions: config.kafkaTopicPartitions,
      replicationFactor: config.kafkaReplicationFactor,
      retentionMs: config.kafkaRetentionMs,
    },
    sessionTimeoutMs: config.kafkaSessionTimeoutMs,
    heartbeatIntervalMs: Math.min(3000, Math.floor(config.kafkaSessionTimeoutMs / 3)),
    log: log.child({ component: 'bus' }),
  });
}

export async function startApp(config: Config, log: Logger): Promise<App> {
  const roles = rolesOf(config);
  const bus = await createBus(config, log);
  await bus.start();
  await bus.ensureTopics(allTopics());

  const store =
    roles.has('sink') || roles.has('api')
      ? await createAnalyticsStore({
          url: config.clickhouseUrl,
          user: config.clickhouseUser,
          password: config.clickhousePassword,
          database: config.clickhouseDatabase,
          dataDir: config.dataDir,
          log,
        })
      : undefined;

  const checkpoints = new CheckpointStore(config.dataDir);
  const http: HttpPolicy = {
    timeoutMs: config.httpTimeoutMs,
    maxBodyBytes: config.httpMaxBodyBytes,
    maxRedirects: config.httpMaxRedirects,
    userAgent: userAgent(config.contact, version),
    allowPrivateNetworks: config.allowPrivateNetworks,
    allowedHosts: config.allowedHosts,
  };

  const lifecycle = new Lifecycle(log);
  if (store && roles.has('sink')) {
    lifecycle.add(
      new ClickHouseSink({
        bus,
        store,
        log: log.child({ component: 'sink-clickhouse' }),
        options: { batchMaxRows: config.sinkBatchMaxRows, lingerMs: config.sinkLingerMs },
      }),
    );
  }
  if (roles.has('process')) {
    lifecycle.add(
      new ProcessStage({
        bus,
        checkpoints,
        log: log.child({ component: 'process' }),
        options: {
          trackedEntities: config.trackedEntities,
          linkWaitMs: 30_000,
          maxBatchRecords: 1000,
        },
      }),
    );
  }
  if (roles.has('ingest')) {
    lifecycle.add(
      new WikidataConnector({
        bus,
        checkpoints,
        log: log.child({ component: 'wikidata' }),
        options: {
          apiUrl: config.wikidataApiUrl,
          qids: config.trackedEntities,
          refreshIntervalMs: config.wikidataRefreshIntervalMs,
          maxlagSeconds: config.wikidataMaxlagSeconds,
          userAgent: http.userAgent,
          http,
        },
      }),
    );
    lifecycle.add(
      new RssConnector({
        bus,
        checkpoints,
        log: log.child({ component: 'rss' }),
        options: { feeds: config.feeds, pollIntervalMs: config.feedPollIntervalMs, http },
      }),
    );
  }

  await lifecycle.start();

  let server: Server | undefined;
  let url: string | undefined;
  if (store && roles.has('api')) {
    const api = await createApi({
      store,
      bus,
      lifecycleHealth: () => lifecycle.health(),
      log: log.child({ component: 'api' }),
      apiKeys: config.apiKeys,
      dataDir: config.dataDir,
      exportMaxRows: config.exportMaxRows,
    });
    server = await api.listen(config.port, config.host);
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  }
  let metricsServer: Server | undefined;
  if (config.metricsPort !== undefined) {
    if (config.apiKeys.length === 0) {
      throw new AletheiaError(
        'CONFIG_INVALID',
        'ALETHEIA_METRICS_PORT needs ALETHEIA_API_KEYS with a key of scope metrics for the scraper',
      );
    }
    metricsServer = await startMetricsServer({
      port: config.metricsPort,
      host: config.host,
      keys: parseApiKeys(config.apiKeys),
      log: log.child({ component: 'metrics' }),
    });
  }
  log.info({ url, roles: [...roles], bus: bus.kind, store: store?.kind }, 'Aletheia is running');

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (server) await closeServer(server);
      if (metricsServer) await closeServer(metricsServer);
      await lifecycle.stop();
      await bus.stop();
      await store?.close();
    })());

  return { bus, roles, store, lifecycle, server, url, stop };
}

/** Stops accepting connections and ends idle ones; running exports get a grace period. */
async function closeServer(server: Server, graceMs = 5000): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearTimeout(timer);
}
