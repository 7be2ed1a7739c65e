/**
 * Maps canonical records and dead letters to rows of the analytics tables, in the shape a
 * JSONEachRow insert takes: snake_case column names, timestamps as
 * '2026-01-02 03:04:05.678' in UTC (the form DateTime64 parses without best-effort parsing),
 * named tuples as objects. A value the columns cannot hold raises RECORD_SCHEMA_INVALID, so
 * the record is dead-lettered instead of failing a whole insert.
 */
import { AletheiaError } from '../../runtime/errors.ts';
import type {
  ArchiveSnapshot,
  CanonicalRecord,
  DeadLetter,
  EntityMention,
  NewsArticle,
  SocialPost,
  WikidataEntity,
} from '../../schemas/types.ts';

export const tables = [
  'articles',
  'entities',
  'entity_mentions',
  'social_posts',
  'archive_snapshots',
  'dead_letters',
] as const;

export type Table = (typeof tables)[number];

export type Row = Record<string, unknown>;

export interface TableRow {
  table: Table;
  row: Row;
}

// DateTime64(3) holds 1900-01-01 to 2299-12-31; anything outside would be clamped silently.
const minDateTimeMs = Date.UTC(1900, 0, 1);
const maxDateTimeMs = Date.UTC(2300, 0, 1) - 1;

/** A millisecond timestamp in the text form a DateTime64(3, 'UTC') column parses. */
export function toDateTime64(ms: number, field: string): string {
  if (!Number.isFinite(ms) || ms < minDateTimeMs || ms > maxDateTimeMs) {
    throw new AletheiaError(
      'RECORD_SCHEMA_INVALID',
      `${field}: expected a time between 1900 and 2299, got ${String(ms)}`,
    );
  }

  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

function optionalDateTime64(ms: number | null, field: string): string | null {
  return ms === null ? null : toDateTime64(ms, field);
}

function envelopeColumns(record: CanonicalRecord): Row {
  return {
    id: record.id,
    kind: record.kind,
    source: record.source,
    native_id: record.nativeId,
    source_url: record.sourceUrl,
    fetched_at: toDateTime64(record.fetchedAt, 'fetchedAt'),
    published_at: optionalDateTime64(record.publishedAt, 'publishedAt'),
    content_hash: record.contentHash,
    schema_version: record.schemaVersion,
  };
}

function mentionColumns(mentions: EntityMention[]): Row[] {
  return mentions.map((mention) => ({
    qid: mention.qid,
    matched_text: mention.matchedText,
    count: nonNegative(mention.count, 'mentions.count'),
  }));
}

function nonNegative(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new AletheiaError('RECORD_SCHEMA_INVALID', `${field}: expected a count, got ${value}`);
  }

  return value;
}

/** The rows one canonical record becomes: its own, plus one per mention for an article. */
export function canonicalRows(record: CanonicalRecord): TableRow[] {
  switch (record.kind) {
    case 'article':
      return articleRows(record as CanonicalRecord<NewsArticle>);
    case 'entity':
      return [{ table: 'entities', row: entityRow(record as CanonicalRecord<WikidataEntity>) }];
    case 'social_post':
      return [{ table: 'social_posts', row: socialPostRow(record as CanonicalRecord<SocialPost>) }];
    case 'archive_snapshot':
      return [
        { table: 'archive_snapshots', row: archiveRow(record as CanonicalRecord<ArchiveSnapshot>) },
      ];
    default:
      throw new AletheiaError(
        'RECORD_UNSUPPORTED',
        `no table for records of kind ${String(record.kind)}`,
      );
  }
}

function articleRows(record: CanonicalRecord<NewsArticle>): TableRow[] {
  const envelope = envelopeColumns(record);
  const article = record.payload;
  const row: Row = {
    ...envelope,
    url: article.url,
    title: article.title,
    summary: article.summary,
    content: article.content,
    author: article.author,
    language: article.language,
    categories: article.categories,
    image_url: article.imageUrl,
    feed_url: article.feedUrl,
    feed_title: article.feedTitle,
    mentions: mentionColumns(article.mentions),
    duplicate_of: article.duplicateOf,
  };
  const mentions: TableRow[] = article.mentions.map((mention) => ({
    table: 'entity_mentions',
    row: {
      article_id: record.id,
      qid: mention.qid,
      matched_text: mention.matchedText,
      mention_count: mention.count,
      published_at: envelope.published_at,
      fetched_at: envelope.fetched_at,
      source: record.source,
      language: article.language,
      feed_url: article.feedUrl,
      title: article.title,
    },
  }));

  return [{ table: 'articles', row }, ...mentions];
}

function entityRow(record: CanonicalRecord<WikidataEntity>): Row {
  const entity = record.payload;

  return {
    ...envelopeColumns(record),
    qid: entity.qid,
    label: entity.label,
    label_language: entity.labelLanguage,
    description: entity.description,
    description_language: entity.descriptionLanguage,
    labels: entity.labels,
    aliases: entity.aliases,
    instance_of: entity.instanceOf,
    image: entity.image,
    logo: entity.logo,
    social_handles: entity.socialHandles,
    sitelinks: entity.sitelinks,
    last_revision_id: entity.lastRevisionId,
    modified_at: optionalDateTime64(entity.modifiedAt, 'modifiedAt'),
  };
}

function socialPostRow(record: CanonicalRecord<SocialPost>): Row {
  const post = record.payload;

  return {
    ...envelopeColumns(record),
    platform: post.platform,
    url: post.url,
    author_handle: post.authorHandle,
    author_name: post.authorName,
    author_qid: post.authorQid,
    text: post.text,
    language: post.language,
    reply_to_url: post.replyToUrl,
    repost_of_url: post.repostOfUrl,
    media_urls: post.mediaUrls,
    mentions: mentionColumns(post.mentions),
    duplicate_of: post.duplicateOf,
  };
}

function archiveRow(record: CanonicalRecord<ArchiveSnapshot>): Row {
  const snapshot = record.payload;

  return {
    ...envelopeColumns(record),
    original_url: snapshot.originalUrl,
    archive_url: snapshot.archiveUrl,
    archive: snapshot.archive,
    captured_at: toDateTime64(snapshot.capturedAt, 'capturedAt'),
    status_code: snapshot.statusCode,
    mime_type: snapshot.mimeType,
    digest: snapshot.digest,
  };
}

export function deadLetterRow(letter: DeadLetter): TableRow {
  return {
    table: 'dead_letters',
    row: {
      id: letter.id,
      stage: letter.stage,
      code: letter.code,
      reason: letter.reason,
      record_id: letter.recordId,
      source_url: letter.sourceUrl,
      original_topic: letter.originalTopic,
      original_partition: letter.originalPartition,
      original_offset: letter.originalOffset,
      original_key: letter.originalKey,
      original_bytes: letter.originalBytes.toString('base64'),
      failed_at: toDateTime64(letter.failedAt, 'failedAt'),
    },
  };
}
