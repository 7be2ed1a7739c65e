/**
 * Read queries over the analytics tables, for the API: pages of articles, entities and
 * mentions (SQL in views.ts), one article or entity by id, and mention counts per entity.
 *
 * Pages are ordered newest first by (time, key) and continue from an opaque cursor holding
 * the last row's time and key, so rows arriving between two requests do not shift a page.
 */
import { z } from 'zod';

import { AletheiaError } from '../../runtime/errors.ts';
import { storeError, type AnalyticsStore, type QueryParams } from './client.ts';
import { outputSettings, selectSql, views, type Filters, type ViewName } from './views.ts';

export type { Filters, ViewName } from './views.ts';

export interface PageRequest extends Filters {
  /** Rows per page, 1 to 500. */
  limit: number;
  cursor?: string | undefined;
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

const cursorShape = z.object({
  t: z.string().regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$/),
  k: z.array(z.string()),
});

function decodeCursor(cursor: string, keys: number): z.infer<typeof cursorShape> {
  try {
    const parsed = cursorShape.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    if (parsed.k.length === keys) return parsed;
  } catch {
    // reported below
  }

  throw new AletheiaError(
    'API_BAD_REQUEST',
    'cursor: not a cursor of this list; pass the nextCursor of the previous page unchanged',
  );
}

function encodeCursor(at: string, keys: string[]): string {
  return Buffer.from(JSON.stringify({ t: at, k: keys })).toString('base64url');
}

/** One page of a view, newest first. */
export async function listPage<T>(
  store: AnalyticsStore,
  name: ViewName,
  request: PageRequest,
): Promise<Page<T>> {
  const view = views[name];
  const params: QueryParams = { limit: request.limit + 1 };
  const where: string[] = [];
  if (request.cursor !== undefined) {
    const cursor = decodeCursor(request.cursor, view.keys.length);
    const row = [view.sortAt, ...view.keys].join(', ');
    const bound = [
      "{cursorAt:DateTime64(3, 'UTC')}",
      ...view.keys.map((_, index) => `{cursorKey${index}:String}`),
    ].join(', ');
    where.push(`(${row}) < (${bound})`);
    params.cursorAt = cursor.t;
    cursor.k.forEach((key, index) => (params[`cursorKey${index}`] = key));
  }

  const cursorColumns =
    `, toString(${view.sortAt}) AS _cursorAt` + `, [${view.keys.join(', ')}] AS _cursorKeys`;
  const query = selectSql(view, store.database, request, params, {
    columns: cursorColumns,
    where,
    limitParam: 'limit',
  });
  const rows = await select<T & { _cursorAt: string; _cursorKeys: string[] }>(
    store,
    query,
    params,
    `listing ${name}`,
  );

  const more = rows.length > request.limit;
  const data = rows.slice(0, request.limit);
  const last = data.at(-1);
  const nextCursor = more && last ? encodeCursor(last._cursorAt, last._cursorKeys) : null;
  for (const row of data) {
    delete (row as Partial<typeof row>)._cursorAt;
    delete (row as Partial<typeof row>)._cursorKeys;
  }

  return { data, nextCursor };
}

export async function select<T>(
  store: AnalyticsStore,
  query: string,
  params: QueryParams,
  operation: string,
): Promise<T[]> {
  try {
    const result = await store.client.query({ query, query_params: params, format: 'JSONEachRow' });

    return await result.json<T>();
  } catch (err) {
    throw storeError(err, operation);
  }
}

export interface MentionSummary {
  qid: string;
  matchedText: string;
  count: number;
}

export interface Article {
  id: string;
  source: string;
  nativeId: string;
  sourceUrl: string;
  url: string;
  title: string;
  summary: string | null;
  author: string | null;
  language: string | null;
  categories: string[];
  imageUrl: string | null;
  feedUrl: string | null;
  feedTitle: string | null;
  mentions: MentionSummary[];
  duplicateOf: string | null;
  /** ISO 8601 timestamps, UTC. */
  publishedAt: string | null;
  fetchedAt: string;
  contentHash: string;
}

export interface ArticleDetail extends Article {
  content: string | null;
}

export interface Entity {
  id: string;
  qid: string;
  label: string | null;
  labelLanguage: string | null;
  description: string | null;
  descriptionLanguage: string | null;
  labels: Record<string, string>;
  aliases: string[];
  instanceOf: string[];
  image: string | null;
  logo: string | null;
  socialHandles: { property: string; platform: string; handle: string }[];
  sitelinks: { site: string; title: string; url: string }[];
  lastRevisionId: number;
  modifiedAt: string | null;
  source: string;
  sourceUrl: string;
  fetchedAt: string;
}

export interface Mention {
  articleId: string;
  qid: string;
  matchedText: string;
  mentionCount: number;
  title: string;
  source: string;
  language: string | null;
  feedUrl: string | null;
  publishedAt: string | null;
  fetchedAt: string;
}

export interface MentionCount {
  qid: string;
  label: string | null;
  /** Articles in the range that mention the entity. */
  articles: number;
  /** Times the entity is named in those articles. */
  mentions: number;
  lastMentionedAt: string | null;
}

export interface EntityDetail extends Entity {
  mentionCounts: { articles: number; mentions: number; lastMentionedAt: string | null };
}

export const listArticles = (store: AnalyticsStore, request: PageRequest): Promise<Page<Article>> =>
  listPage<Article>(store, 'articles', request);

export const listEntities = (store: AnalyticsStore, request: PageRequest): Promise<Page<Entity>> =>
  listPage<Entity>(store, 'entities', request);

export const listMentions = (store: AnalyticsStore, request: PageRequest): Promise<Page<Mention>> =>
  listPage<Mention>(store, 'mentions', request);

export async function getArticle(store: AnalyticsStore, id: string): Promise<ArticleDetail | null> {
  const params: QueryParams = { id, limit: 1 };
  const query = selectSql(views.articles, store.database, {}, params, {
    columns: ', content',
    where: ['id = {id:String}'],
    limitParam: 'limit',
  });
  const [article] = await select<ArticleDetail>(store, query, params, `reading article ${id}`);

  return article ?? null;
}

/** The entity, with how many articles mention it in the range (all time without one). */
export async function getEntity(
  store: AnalyticsStore,
  qid: string,
  range: Pick<Filters, 'from' | 'to'> = {},
): Promise<EntityDetail | null> {
  const params: QueryParams = { qid, limit: 1 };
  const query = selectSql(views.entities, store.database, {}, params, {
    where: ['qid = {qid:String}'],
    limitParam: 'limit',
  });
  const [entity] = await select<Entity>(store, query, params, `reading entity ${qid}`);
  if (!entity) return null;

  const [counts] = await mentionCounts(store, { ...range, entity: qid, limit: 1 });

  return {
    ...entity,
    mentionCounts: {
      articles: counts?.articles ?? 0,
      mentions: counts?.mentions ?? 0,
      lastMentionedAt: counts?.lastMentionedAt ?? null,
    },
  };
}

/** Entities by the number of articles that mention them in the range, most mentioned first. */
export async function mentionCounts(
  store: AnalyticsStore,
  filters: Filters & { limit: number },
): Promise<MentionCount[]> {
  const db = store.database;
  const view = views.mentions;
  const params: QueryParams = { limit: filters.limit };
  const where = view.conditions(filters, params);
  const query = `
    SELECT counts.qid AS qid, names.label AS label, counts.articles AS articles,
           counts.mentions AS mentions, counts.lastMentionedAt AS lastMentionedAt
    FROM (
      SELECT qid, uniqExact(article_id) AS articles, sum(mention_count) AS mentions,
             max(${view.sortAt}) AS lastMentionedAt
      FROM ${db}.entity_mentions FINAL
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      GROUP BY qid
    ) AS counts
    LEFT JOIN (
      SELECT qid, argMax(label, fetched_at) AS label FROM ${db}.entities FINAL GROUP BY qid
    ) AS names ON names.qid = counts.qid
    ORDER BY articles DESC, qid
    LIMIT {limit:UInt64}
    ${outputSettings}`;

  return select<MentionCount>(store, query, params, 'counting mentions');
}
