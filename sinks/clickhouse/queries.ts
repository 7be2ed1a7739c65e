/**
 * Read queries over the analytics tables, for the API: articles, entities and mentions with
 * filters and keyset pagination, and mention counts per entity. Every value reaches the
 * store as a server-side parameter (`{name:Type}`), never as SQL text. Tables are read with
 * FINAL so a record stored twice (a replay) appears once.
 *
 * Pages are ordered newest first by (time, key) and continue from an opaque cursor holding
 * the last row's time and key, so rows arriving between two requests do not shift a page.
 * Result columns carry the API's camelCase names, so lists and exports (export.ts) share
 * one column list.
 */
import { z } from 'zod';

import { AletheiaError } from '../../runtime/errors.ts';
import { storeError, type AnalyticsStore, type QueryParams } from './client.ts';
import { toDateTime64, type Table } from './rows.ts';

export interface Filters {
  /** ISO 8601 timestamp: rows at or after it. */
  from?: string | undefined;
  /** ISO 8601 timestamp: rows before it. */
  to?: string | undefined;
  source?: string | undefined;
  /** QID of a tracked entity the rows mention. */
  entity?: string | undefined;
  language?: string | undefined;
  /** Case-insensitive text searched for in titles and summaries (labels for entities). */
  q?: string | undefined;
}

export interface PageRequest extends Filters {
  /** Rows per page, 1 to 500. */
  limit: number;
  cursor?: string | undefined;
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export type ViewName = 'articles' | 'entities' | 'mentions';

export interface View {
  table: Table;
  /** SELECT list, with camelCase aliases. */
  columns: string;
  /** Time the rows are ordered and range-filtered by. */
  sortAt: string;
  /** Columns that, after the time, make the order total. */
  keys: string[];
  /** Conditions for the filters, adding their parameters to `params`. */
  conditions(filters: Filters, params: QueryParams): string[];
}

const mentionTuples =
  'arrayMap(m -> CAST(tuple(m.1, m.2, m.3), ' +
  "'Tuple(qid String, matchedText String, count UInt32)'), mentions) AS mentions";

const contains = (column: string): string =>
  `positionCaseInsensitiveUTF8(${column}, {q:String}) > 0`;

export const views: Record<ViewName, View> = {
  articles: {
    table: 'articles',
    columns: [
      'id, source, native_id AS nativeId, source_url AS sourceUrl, url, title, summary, author',
      'language, categories, image_url AS imageUrl, feed_url AS feedUrl, feed_title AS feedTitle',
      `${mentionTuples}, duplicate_of AS duplicateOf, published_at AS publishedAt`,
      'fetched_at AS fetchedAt, content_hash AS contentHash',
    ].join(', '),
    sortAt: 'ifNull(published_at, fetched_at)',
    keys: ['id'],
    conditions(filters, params) {
      const where = common(filters, params, this.sortAt);
      if (filters.language !== undefined) where.push('language = {language:String}');
      if (filters.entity !== undefined)
        where.push('arrayExists(m -> m.1 = {entity:String}, mentions)');
      if (filters.q !== undefined)
        where.push(`(${contains('title')} OR ${contains("ifNull(summary, '')")})`);

      return where;
    },
  },
  entities: {
    table: 'entities',
    columns: [
      'id, qid, label, label_language AS labelLanguage, description',
      'description_language AS descriptionLanguage, labels, aliases, instance_of AS instanceOf',
      'image, logo, social_handles AS socialHandles, sitelinks',
      'last_revision_id AS lastRevisionId, modified_at AS modifiedAt, source',
      'source_url AS sourceUrl, fetched_at AS fetchedAt',
    ].join(', '),
    sortAt: 'ifNull(modified_at, fetched_at)',
    keys: ['id'],
    conditions(filters, params) {
      const where = common(filters, params, this.sortAt);
      if (filters.entity !== undefined) where.push('qid = {entity:String}');
      if (filters.q !== undefined) {
        where.push(
          `(${contains("ifNull(label, '')")} OR qid = upper({q:String}) OR ` +
            `arrayExists(name -> ${contains('name')}, arrayConcat(aliases, mapValues(labels))))`,
        );
      }

      return where;
    },
  },
  mentions: {
    table: 'entity_mentions',
    columns: [
      'article_id AS articleId, qid, matched_text AS matchedText, mention_count AS mentionCount',
      'title, source, language, feed_url AS feedUrl, published_at AS publishedAt',
      'fetched_at AS fetchedAt',
    ].join(', '),
    sortAt: 'ifNull(published_at, fetched_at)',
    keys: ['article_id', 'qid'],
    conditions(filters, params) {
      const where = common(filters, params, this.sortAt);
      if (filters.language !== undefined) where.push('language = {language:String}');
      if (filters.entity !== undefined) where.push('qid = {entity:String}');
      if (filters.q !== undefined)
        where.push(`(${contains('title')} OR ${contains('matched_text')})`);

      return where;
    },
  },
};

/** Conditions every view shares: the time range, the source and the search text parameter. */
function common(filters: Filters, params: QueryParams, sortAt: string): string[] {
  const where: string[] = [];
  if (filters.from !== undefined) {
    params.from = timestamp(filters.from, 'from');
    where.push(`${sortAt} >= {from:DateTime64(3, 'UTC')}`);
  }
  if (filters.to !== undefined) {
    params.to = timestamp(filters.to, 'to');
    where.push(`${sortAt} < {to:DateTime64(3, 'UTC')}`);
  }
  if (filters.source !== undefined) where.push('source = {source:String}');
  for (const name of ['source', 'entity', 'language', 'q'] as const) {
    if (filters[name] !== undefined) params[name] = filters[name];
  }

  return where;
}

function timestamp(value: string, name: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) {
    throw new AletheiaError(
      'API_BAD_REQUEST',
      `${name}: expected an ISO 8601 timestamp, got '${value}'`,
    );
  }
  try {
    return toDateTime64(ms, name);
  } catch (err) {
    throw new AletheiaError('API_BAD_REQUEST', (err as Error).message);
  }
}

/**
 * Formats of the store's answers: times as ISO 8601 with Z, 64-bit integers as JSON numbers
 * (counts and revision ids stay far below 2^53), CSV nulls as empty fields. Column names win
 * over aliases in WHERE, so an alias such as `mentions` never changes what a filter reads.
 */
export const outputSettings =
  "SETTINGS date_time_output_format = 'iso', output_format_json_quote_64bit_integers = 0, " +
  "format_csv_null_representation = '', prefer_column_name_to_alias = 1";

export function selectSql(
  view: View,
  database: string,
  filters: Filters,
  params: QueryParams,
  extra: { columns?: string; where?: string[]; limitParam: string },
): string {
  const where = [...view.conditions(filters, params), ...(extra.where ?? [])];
  const order = [view.sortAt, ...view.keys].map((column) => `${column} DESC`).join(', ');

  return [
    `SELECT ${view.columns}${extra.columns ?? ''}`,
    `FROM ${database}.${view.table} FINAL`,
    where.length > 0 ? `WHERE ${where.join(' AND ')}` : '',
    `ORDER BY ${order}`,
    `LIMIT {${extra.limitParam}:UInt64}`,
    outputSettings,
  ]
    .filter(Boolean)
    .join('\n');
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
    const keys = view.keys.map((_, index) => `{cursorKey${index}:String}`);
    where.push(
      `(${[view.sortAt, ...view.keys].join(', ')}) < ({cursorAt:DateTime64(3, 'UTC')}, ${keys.join(', ')})`,
    );
    params.cursorAt = cursor.t;
    cursor.k.forEach((key, index) => (params[`cursorKey${index}`] = key));
  }

  const cursorColumns = `, toString(${view.sortAt}) AS _cursorAt, [${view.keys.join(', ')}] AS _cursorKeys`;
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
