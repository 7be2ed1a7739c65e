-- Records a stage could not handle, from every dead-letter topic, for operators to list and
-- replay. original_bytes holds the original record bytes in base64: a JSON insert cannot
-- carry arbitrary bytes.

CREATE TABLE IF NOT EXISTS {{database}}.dead_letters
(
    id String,
    stage LowCardinality(String),
    code LowCardinality(String),
    reason String,
    record_id Nullable(String),
    source_url Nullable(String),
    original_topic Nullable(String),
    original_partition Nullable(Int32),
    original_offset Nullable(String),
    original_key Nullable(String),
    original_bytes String,
    failed_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(failed_at)
ORDER BY id
SETTINGS non_replicated_deduplication_window = 1000;
