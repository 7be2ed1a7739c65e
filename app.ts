/**
 * Wires the system from its configuration: the bus, the analytics store, the sink, the
 * processing stage, the source connectors and the API. Components start downstream first,
 * so nothing is published before its consumers are listening, and stop upstream first, so
 * what is in flight drains into the store.
 */
import type { Server } from 'node:http';

import { createApi } from './api/server.ts';
import { RssConnector } from './ingest/rss.ts';
import { userAgent, WikidataConnector } from './ingest/wikidata.ts';
import { ProcessStage } from './processors/process.ts';
import type { Bus } from './runtime/bus.ts';
import { CheckpointStore } from './runtime/checkpoint.ts';
import type { Config } from './runtime/config.ts';
import type { HttpPolicy } from './runtime/http.ts';
import { Lifecycle } from './runtime/lifecycle.ts';
import type { Logger } from './runtime/log.ts';
import { MemoryBus } from './runtime/memory-bus.ts';
import { allTopics } from './schemas/topics.ts';
import { createAnalyticsStore, type AnalyticsStore } from './sinks/clickhouse/client.ts';
import { ClickHouseSink } from './sinks/clickhouse/sink.ts';

export const version = '0.1.0';

export interface App {
  bus: Bus;
  store: AnalyticsStore;
  lifecycle: Lifecycle;
  server: Server;
  /** Address the API listens on, e.g. http://127.0.0.1:8080. */
  url: string;
  stop(): Promise<void>;
}

export async function startApp(config: Config, log: Logger): Promise<App> {
  const bus = new MemoryBus({
    partitions: config.busPartitions,
    queueMaxRecords: config.busQueueMaxRecords,
  });
  await bus.start();
  await bus.ensureTopics(allTopics());

  const store = await createAnalyticsStore({
    url: config.clickhouseUrl,
    user: config.clickhouseUser,
    password: config.clickhousePassword,
    database: config.clickhouseDatabase,
    dataDir: config.dataDir,
    log,
  });

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
  lifecycle.add(
    new ClickHouseSink({
      bus,
      store,
      log: log.child({ component: 'sink-clickhouse' }),
      options: { batchMaxRows: config.sinkBatchMaxRows, lingerMs: config.sinkLingerMs },
    }),
  );
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

  const api = await createApi({
    store,
    lifecycleHealth: () => lifecycle.health(),
    log: log.child({ component: 'api' }),
    apiKeys: config.apiKeys,
    dataDir: config.dataDir,
    exportMaxRows: config.exportMaxRows,
  });

  await lifecycle.start();
  const server = await api.listen(config.port, config.host);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  log.info({ url, bus: bus.kind, store: store.kind }, 'Aletheia is running');

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await lifecycle.stop();
      await bus.stop();
      await store.close();
    })());

  return { bus, store, lifecycle, server, url, stop };
}
