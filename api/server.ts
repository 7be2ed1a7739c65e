/**
 * The HTTP API (Koa): read and export access to the analytics store for analysts and
 * partners, plus health and readiness for operators. Middleware order: request log, error
 * mapping, routes; so every request, failed or not, gets exactly one log line and every
 * failure one problem+json answer.
 */
import { createServer, type Server } from 'node:http';

import Koa from 'koa';

import type { Bus } from '../runtime/bus.ts';
import type { Health } from '../runtime/lifecycle.ts';
import type { Logger } from '../runtime/log.ts';
import type { AnalyticsStore } from '../sinks/clickhouse/client.ts';
import { generatedApiKey, parseApiKeys } from './auth.ts';
import { errorMiddleware, requestLogMiddleware } from './problem.ts';
import { routes } from './routes.ts';

export interface ApiOptions {
  store: AnalyticsStore;
  /** Where replayed dead letters are published. */
  bus: Bus;
  lifecycleHealth: () => Promise<Record<string, Health>>;
  log: Logger;
  /** `name:secret:scope+scope` entries; empty: one key generated into `<dataDir>/api-key`. */
  apiKeys: string[];
  dataDir: string;
  /** Rows one export streams at most. */
  exportMaxRows: number;
}

export interface Api {
  app: Koa;
  /** Starts listening; resolves with the server once it accepts connections. */
  listen(port: number, host: string): Promise<Server>;
}

export async function createApi(options: ApiOptions): Promise<Api> {
  const { log } = options;
  const keys =
    options.apiKeys.length > 0
      ? parseApiKeys(options.apiKeys)
      : [generatedApiKey(options.dataDir, log)];

  const app = new Koa();
  // Errors that reach Koa itself: a stream that failed after the response started.
  app.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ECONNRESET' || err.code === 'ERR_STREAM_PREMATURE_CLOSE') {
      log.debug({ err }, 'client went away during a response');
    } else {
      log.error({ err }, 'response failed after it started');
    }
  });

  const router = routes({
    store: options.store,
    bus: options.bus,
    lifecycleHealth: options.lifecycleHealth,
    keys,
    exportMaxRows: options.exportMaxRows,
    log,
  });
  app.use(requestLogMiddleware(log));
  app.use(errorMiddleware(log));
  app.use(router.routes());

  return {
    app,
    listen(port, host) {
      const server = createServer(app.callback());

      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          log.info({ host, port }, 'API listening');
          resolve(server);
        });
      });
    },
  };
}
