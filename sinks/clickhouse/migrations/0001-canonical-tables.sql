-- Canonical records, one table per kind. Columns are the envelope fields, then the payload
-- fields, named in snake_case after the Avro schemas in schemas/. Each table keeps the latest
-- version of a record (by fetched_at) per id; read with FINAL so replays never count twice.
-- non_replicated_deduplication_window makes an insert retried with the same
-- insert_deduplication_token a no-op.

CREATE TABLE IF NOT EXISTS {{database}}.articles
(
    id String,
    kind LowCardinality(String),
    source LowCardinality(String),
    native_id String,
    source_url String,
    fetched_at DateTime64(3, 'UTC'),
    published_at Nullable(DateTime64(3, 'UTC')),
    content_hash String,
    schema_version UInt16,
    url String,
    title String,
    summary Nullable(String),
    content Nullable(String),
    author Nullable(String),
    language LowCardinality(Nullable(String)),
    categories Array(String),
    image_url Nullable(String),
    feed_url Nullable(String),
    feed_title Nullable(String),
    mentions Array(Tuple(qid String, matched_text String, count UInt32)),
    duplicate_of Nullable(String)
)
ENGINE = ReplacingMergeTree(fetched_at)
ORDER BY id
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {{database}}.entities
(
    id String,
    kind LowCardinality(String),
    source LowCardinality(String),
    native_id String,
    source_url String,
    fetched_at DateTime64(3, 'UTC'),
    published_at Nullable(DateTime64(3, 'UTC')),
    content_hash String,
    schema_version UInt16,
    qid String,
    label Nullable(String),
    label_language LowCardinality(Nullable(String)),
    description Nullable(String),
    description_language LowCardinality(Nullable(String)),
    labels Map(String, String),
    aliases Array(String),
    instance_of Array(String),
    image Nullable(String),
    logo Nullable(String),
    social_handles Array(Tuple(property String, platform String, handle String)),
    sitelinks Array(Tuple(site String, title String, url String)),
    last_revision_id Int64,
    modified_at Nullable(DateTime64(3, 'UTC'))
)
ENGINE = ReplacingMergeTree(fetched_at)
ORDER BY id
SETTINGS non_replicated_deduplication_window = 1000;

-- One row per article and tracked entity it names, for counting mentions without unnesting
-- the articles' mentions arrays.
CREATE TABLE IF NOT EXISTS {{database}}.entity_mentions
(
    article_id String,
    qid String,
    matched_text String,
    mention_count UInt32,
    published_at Nullable(DateTime64(3, 'UTC')),
    fetched_at DateTime64(3, 'UTC'),
    source LowCardinality(String),
    language LowCardinality(Nullable(String)),
    feed_url Nullable(String),
    title String
)
ENGINE = ReplacingMergeTree(fetched_at)
ORDER BY (qid, article_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {{database}}.social_posts
(
    id String,
    kind LowCardinality(String),
    source LowCardinality(String),
    native_id String,
    source_url String,
    fetched_at DateTime64(3, 'UTC'),
    published_at Nullable(DateTime64(3, 'UTC')),
    content_hash String,
    schema_version UInt16,
    platform LowCardinality(String),
    url String,
    author_handle String,
    author_name Nullable(String),
    author_qid Nullable(String),
    text String,
    language LowCardinality(Nullable(String)),
    reply_to_url Nullable(String),
    repost_of_url Nullable(String),
    media_urls Array(String),
    mentions Array(Tuple(qid String, matched_text String, count UInt32)),
    duplicate_of Nullable(String)
)
ENGINE = ReplacingMergeTree(fetched_at)
ORDER BY id
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {{database}}.archive_snapshots
(
    id String,
    kind LowCardinality(String),
    source LowCardinality(String),
    native_id String,
    source_url String,
    fetched_at DateTime64(3, 'UTC'),
    published_at Nullable(DateTime64(3, 'UTC')),
    content_hash String,
    schema_version UInt16,
    original_url String,
    archive_url String,
    archive LowCardinality(String),
    captured_at DateTime64(3, 'UTC'),
    status_code Nullable(Int32),
    mime_type Nullable(String),
    digest Nullable(String)
)
ENGINE = ReplacingMergeTree(fetched_at)
ORDER BY id
SETTINGS non_replicated_deduplication_window = 1000;
