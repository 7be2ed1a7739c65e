/**
 * The API's routes: health and readiness for operators (no key), then the read and export
 * endpoints over the analytics store (scopes `read` and `export`). Responses use camelCase
 * field names; lists answer `{ data, nextCursor }`.
 */
import { Router } from '@koa/router';
import type { Middleware } from 'koa';
import { z } from 'zod';

import type { Bus } from '../runtime/bus.ts';
import type { Health } from '../runtime/lifecycle.ts';
import { registry } from '../runtime/metrics.ts';
import { AletheiaError } from '../runtime/errors.ts';
import type { Logger } from '../runtime/log.ts';
import type { AnalyticsStore } from '../sinks/clickhouse/client.ts';
import { listDeadLetters } from '../sinks/clickhouse/dead-letters.ts';
import { exportRows } from '../sinks/clickhouse/export.ts';
import {
  getArticle,
  getEntity,
  listArticles,
  listEntities,
  listMentions,
  mentionCounts,
  type ViewName,
} from '../sinks/clickhouse/queries.ts';
import { requireScope, type ApiKey } from './auth.ts';
import { replayDeadLetters } from './dead-letters.ts';
import { readJsonBody } from './json-body.ts';
import { articleId, parseQuery, qid, validate } from './params.ts';
import { sendExport } from './stream.ts';

export interface RouteOptions {
  store: AnalyticsStore;
  bus: Bus;
  lifecycleHealth: () => Promise<Record<string, Health>>;
  keys: ApiKey[];
  exportMaxRows: number;
  log: Logger;
}

export function routes(options: RouteOptions): Router {
  const { store, keys } = options;
  const router = new Router();
  const read = requireScope(keys, 'read');
  const exporting = requireScope(keys, 'export');
  const admin = requireScope(keys, 'admin');
  const metrics = requireScope(keys, 'metrics');
  // Records the route for the request log: where two patterns match (`/v1/articles/export`
  // and `/v1/articles/:id`), the router reports the last, while the first one answers.
  const get = (path: string, ...handlers: Middleware[]): void => {
    router.get(
      path,
      async (ctx, next) => {
        ctx.state.route ??= path;
        await next();
      },
      ...handlers,
    );
  };

  // Probes may add parameters of their own; these two routes ignore them.
  get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  get('/ready', async (ctx) => {
    const components = await readiness(options);
    // A source that cannot be reached degrades what is ingested, not what this process
    // serves, so it does not take the process out of a load balancer.
    const failing = Object.entries(components).filter(([, health]) => !health.ok);
    const ready = failing.every(([name]) => name.startsWith('ingest.'));
    ctx.status = ready ? 200 : 503;
    ctx.body = {
      status: !ready ? 'not ready' : failing.length > 0 ? 'degraded' : 'ready',
      components,
    };
  });

  // Export routes come before `/:id` routes, which would otherwise take `export` for an id.
  const exports: [string, ViewName, 'articlesExport' | 'entitiesExport' | 'mentionsExport'][] = [
    ['/v1/articles/export', 'articles', 'articlesExport'],
    ['/v1/entities/export', 'entities', 'entitiesExport'],
    ['/v1/mentions/export', 'mentions', 'mentionsExport'],
  ];
  for (const [path, view, params] of exports) {
    get(path, exporting, async (ctx) => {
      const { format, ...filters } = parseQuery(params, ctx.query);
      const chunks = exportRows(store, view, filters, {
        format: format === 'csv' ? 'CSVWithNames' : 'JSONEachRow',
        maxRows: options.exportMaxRows,
      });
      await sendExport(ctx, `${view}-${new Date().toISOString().slice(0, 10)}`, format, chunks);
    });
  }

  get('/v1/articles', read, async (ctx) => {
    ctx.body = await listArticles(store, parseQuery('articles', ctx.query));
  });

  get('/v1/articles/:id', read, async (ctx) => {
    parseQuery('none', ctx.query);
    const id = validate(articleId, ctx.params.id, 'article id');
    const article = await getArticle(store, id);
    if (!article) throw new AletheiaError('API_NOT_FOUND', `no article with id ${id}`);
    ctx.body = article;
  });

  get('/v1/entities', read, async (ctx) => {
    ctx.body = await listEntities(store, parseQuery('entities', ctx.query));
  });

  get('/v1/entities/:qid', read, async (ctx) => {
    const range = parseQuery('entity', ctx.query);
    const id = validate(qid, ctx.params.qid, 'QID');
    const entity = await getEntity(store, id, range);
    if (!entity) throw new AletheiaError('API_NOT_FOUND', `no tracked entity ${id}`);
    ctx.body = entity;
  });

  get('/v1/mentions', read, async (ctx) => {
    ctx.body = await listMentions(store, parseQuery('mentions', ctx.query));
  });

  get('/v1/mentions/counts', read, async (ctx) => {
    ctx.body = { data: await mentionCounts(store, parseQuery('mentionCounts', ctx.query)) };
  });

  get('/metrics', metrics, async (ctx) => {
    parseQuery('none', ctx.query);
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  });

  get('/v1/dead-letters', admin, async (ctx) => {
    ctx.body = await listDeadLetters(store, parseQuery('deadLetters', ctx.query));
  });

  router.post(
    '/v1/dead-letters/replay',
    async (ctx, next) => {
      ctx.state.route = '/v1/dead-letters/replay';
      await next();
    },
    admin,
    async (ctx) => {
      const { ids } = validate(replayBody, await readJsonBody(ctx, 64 * 1024), 'body');
      ctx.body = { data: await replayDeadLetters(store, options.bus, ids) };
    },
  );

  return router;
}

const replayBody = z.strictObject({
  ids: z
    .array(z.string().regex(/^[0-9a-f]{32}$/, 'expected dead-letter ids of 32 hex digits'))
    .min(1, 'expected at least one id')
    .max(1000, 'expected at most 1000 ids'),
});

/** The store's answer and every component's health, each under its name. */
async function readiness(options: RouteOptions): Promise<Record<string, Health>> {
  const store = options.store.ping().then(
    (): Health => ({ ok: true }),
    (err: unknown): Health => {
      options.log.debug({ err }, 'analytics store not ready');

      return { ok: false, detail: 'the analytics store does not answer' };
    },
  );
  const components = options.lifecycleHealth().catch((err: unknown): Record<string, Health> => {
    options.log.warn({ err }, 'component health unavailable');

    return { components: { ok: false, detail: 'component health could not be read' } };
  });

  return { store: await store, ...(await components) };
}
