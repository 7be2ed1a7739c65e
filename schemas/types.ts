// Generated from the .avsc files in this folder by scripts/generate-types.ts.
// Do not edit: change the schema and run `npm run schemas:types`.

export type RecordKind = 'entity' | 'article' | 'social_post' | 'archive_snapshot';

/**
 * Fields every canonical record carries, whatever its kind. The payload field is added per kind.
 */
export interface Envelope {
  /** Deterministic id: hex SHA-256 of source and native id, 32 characters. */
  id: string;
  kind: RecordKind;
  /** Connector that produced the record: rss, wikidata, ... */
  source: string;
  /** Id of the record at its source: QID, feed item guid or link, ... */
  nativeId: string;
  /** Where the record was fetched from. */
  sourceUrl: string;
  fetchedAt: number;
  publishedAt: null | number;
  /** Hex SHA-256 of the canonical content, excluding enrichments. */
  contentHash: string;
  schemaVersion: number;
}

/** A tracked Wikidata entity named in a text. */
export interface EntityMention {
  qid: string;
  /** The label or alias as it appears in the text. */
  matchedText: string;
  /** Times the entity is named. */
  count: number;
}

export interface SocialHandle {
  property: string;
  platform: string;
  handle: string;
}

export interface Sitelink {
  site: string;
  title: string;
  url: string;
}

/**
 * A Wikidata item tracked by Aletheia: names in the working languages, classes, images, social
 * handles and Wikipedia articles.
 */
export interface WikidataEntity {
  qid: string;
  /** Label in the first language available of pt-br, pt, en. */
  label: null | string;
  labelLanguage: null | string;
  description: null | string;
  descriptionLanguage: null | string;
  /** Labels by language code, working languages only. */
  labels: Record<string, string>;
  /** Aliases in the working languages, deduplicated. */
  aliases: string[];
  /** QIDs of P31 values. */
  instanceOf: string[];
  /** Commons file name of P18. */
  image: null | string;
  /** Commons file name of P154. */
  logo: null | string;
  socialHandles: SocialHandle[];
  sitelinks: Sitelink[];
  lastRevisionId: number;
  modifiedAt: null | number;
}

/** A news article from a feed or news API, with the tracked entities its text mentions. */
export interface NewsArticle {
  url: string;
  title: string;
  /** Plain text, markup removed. */
  summary: null | string;
  /** Plain text of the full content when the source gives it. */
  content: null | string;
  author: null | string;
  /** BCP 47 code, lower case: pt-br, en. */
  language: null | string;
  categories: string[];
  imageUrl: null | string;
  feedUrl: null | string;
  feedTitle: null | string;
  /** Tracked entities named in title, summary or content. */
  mentions: EntityMention[];
  /** Id of an earlier record with the same content hash. */
  duplicateOf: null | string;
}

/** A public post on a social network (Mastodon, Bluesky, ...). */
export interface SocialPost {
  platform: string;
  url: string;
  authorHandle: string;
  authorName: null | string;
  /** Tracked entity the account belongs to, when known. */
  authorQid: null | string;
  /** Plain text, markup removed. */
  text: string;
  language: null | string;
  replyToUrl: null | string;
  repostOfUrl: null | string;
  mediaUrls: string[];
  mentions: EntityMention[];
  duplicateOf: null | string;
}

/** An archived copy of a source URL in a web archive such as the Wayback Machine. */
export interface ArchiveSnapshot {
  originalUrl: string;
  archiveUrl: string;
  /** Archive that holds the copy: wayback, ... */
  archive: string;
  capturedAt: number;
  statusCode: null | number;
  mimeType: null | string;
  /** Content digest reported by the archive. */
  digest: null | string;
}

/** A record as a connector fetched it, before normalisation. Published on raw.<source>. */
export interface RawRecord {
  /** Canonical id the normalised record will carry. */
  id: string;
  source: string;
  nativeId: string;
  sourceUrl: string;
  fetchedAt: number;
  /** Media type of body, e.g. application/vnd.aletheia.feed-item+json. */
  contentType: string;
  body: Buffer;
  /** Source context: feed URL and title, language, ... */
  context: Record<string, string>;
}

/**
 * A record a stage could not handle, with the reason and the original bytes. Published on
 * dead-letter.<stage>.
 */
export interface DeadLetter {
  /** Hex SHA-256 of stage, original topic, key and bytes: replays land on the same id. */
  id: string;
  stage: string;
  /** Error code from the closed list. */
  code: string;
  reason: string;
  recordId: null | string;
  sourceUrl: null | string;
  originalTopic: null | string;
  originalPartition: null | number;
  originalOffset: null | string;
  originalKey: null | string;
  originalBytes: Buffer;
  failedAt: number;
}

export type Payload = WikidataEntity | NewsArticle | SocialPost | ArchiveSnapshot;

/** A canonical record: the envelope and the payload of its kind. */
export type CanonicalRecord<P extends Payload = Payload> = Envelope & { payload: P };
