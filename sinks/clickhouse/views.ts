/**
 * The SQL of the lists the API serves (articles, entities, mentions): their columns under
 * the API's camelCase names, the time they are ordered by, and the conditions of each
 * filter. Every value reaches the store as a server-side parameter (`{name:Type}`), never as
 * SQL text; tables are read with FINAL so a record stored twice (a replay) appears once.
 * Lists (queries.ts) and exports (export.ts) build their SELECT here, so both give the same
 * rows with the same columns.
 */
import { AletheiaError } from '../../runtime/errors.ts';
import type { QueryParams } from './client.ts';
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
  /** Dead letters only: the stage that dead-lettered them and the error code. */
  stage?: string | undefined;
  code?: string | undefined;
}

export type ViewName = 'articles' | 'entities' | 'mentions' | 'deadLetters';

export interface View {
  table: Table;
  /** SELECT list, with camelCase aliases. */
  columns: string;
  /** Time the rows are ordered and range-filtered by. */
  sortAt: string;
  /** Columns that, after the time, make the order total. */
  keys: string[];
  /** The table's sorting key: the order the store reads rows in without sorting them. */
  storageOrder: string;
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
    storageOrder: 'id',
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
    storageOrder: 'id',
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
    storageOrder: 'qid, article_id',
    conditions(filters, params) {
      const where = common(filters, params, this.sortAt);
      if (filters.language !== undefined) where.push('language = {language:String}');
      if (filters.entity !== undefined) where.push('qid = {entity:String}');
      if (filters.q !== undefined)
        where.push(`(${contains('title')} OR ${contains('matched_text')})`);

      return where;
    },
  },
  deadLetters: {
    table: 'dead_letters',
    columns: [
      'id, stage, code, reason, record_id AS recordId, source_url AS sourceUrl',
      'original_topic AS originalTopic, original_partition AS originalPartition',
      'original_offset AS originalOffset, original_key AS originalKey',
      'length(base64Decode(original_bytes)) AS originalBytesLength, failed_at AS failedAt',
    ].join(', '),
    sortAt: 'failed_at',
    keys: ['id'],
    storageOrder: 'id',
    conditions(filters, params) {
      const where = common(filters, params, this.sortAt);
      for (const name of ['stage', 'code'] as const) {
        if (filters[name] === undefined) continue;
        params[name] = filters[name];
        where.push(`${name} = {${name}:String}`);
      }

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
  extra: { columns?: string; where?: string[]; limitParam: string; order?: string },
): string {
  const where = [...view.conditions(filters, params), ...(extra.where ?? [])];
  const order =
    extra.order ?? [view.sortAt, ...view.keys].map((column) => `${column} DESC`).join(', ');

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
