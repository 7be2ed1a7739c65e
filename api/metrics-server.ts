/**
 * A Prometheus endpoint of its own, for processes that do not run the API (an ingest or a
 * processor process in a scaled-out deployment). Serves `GET /metrics` only, to API keys
 * with the `metrics` scope, like the API's own `/metrics`.
 */
import { createServer, type Server } from 'node:http';

import { AletheiaError, isAletheiaError } from '../runtime/errors.ts';
import type { Logger } from '../runtime/log.ts';
import { registry } from '../runtime/metrics.ts';
import { authenticate, type ApiKey } from './auth.ts';
import { problemOf } from './problem.ts';

export interface MetricsServerOptions {
  port: number;
  host: string;
  keys: ApiKey[];
  log: Logger;
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<Server> {
  const { keys, log } = options;
  const server = createServer((request, response) => {
    void (async () => {
      try {
        if (
          request.method !== 'GET' ||
          new URL(request.url ?? '/', 'http://x').pathname !== '/metrics'
        ) {
          throw new AletheiaError('API_NOT_FOUND', 'only GET /metrics is served on this port');
        }
        const key = authenticate(keys, request.headers);
        if (!key.scopes.has('metrics')) {
          throw new AletheiaError(
            'API_FORBIDDEN',
            `the API key ${key.name} lacks the scope 'metrics'`,
          );
        }

        const body = await registry.metrics();
        response.writeHead(200, { 'content-type': registry.contentType }).end(body);
      } catch (err) {
        const problem = problemOf(err);
        if (!isAletheiaError(err)) log.error({ err }, 'metrics endpoint failed');
        response
          .writeHead(problem.status, {
            'content-type': 'application/problem+json',
            ...(problem.status === 401 ? { 'www-authenticate': 'Bearer realm="aletheia"' } : {}),
          })
          .end(JSON.stringify(problem));
      }
    })();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  log.info({ host: options.host, port: options.port }, 'metrics endpoint listening');

  return server;
}
