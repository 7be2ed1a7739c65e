import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { codecs } from '../../../schemas/index.ts';
import { topics } from '../../../schemas/topics.ts';
import type { AnalyticsStore } from '../../../sinks/clickhouse/client.ts';
import {
  article,
  bolsonaro,
  countFinal,
  entity,
  lula,
  openStore,
  sampleDeadLetter,
  startPipeline,
  type Pipeline,
} from './fixtures.ts';

let store: AnalyticsStore;
let closeStore: () => Promise<void>;
let pipeline: Pipeline;

before(async () => {
  ({ store, close: closeStore } = await openStore());
  pipeline = await startPipeline(store);
});

after(async () => {
  await pipeline.stop();
  await closeStore();
});

async function rows<T>(query: string): Promise<T[]> {
  const result = await store.client.query({ query, format: 'JSONEachRow' });

  return result.json<T>();
}

const articles = Array.from({ length: 30 }, (_, i) =>
  article({
    n: i,
    title: `Matéria ${i} sobre o governo`,
    mentions:
      i % 3 === 0
        ? [
            { qid: lula, matchedText: 'Lula', count: 2 },
            { qid: bolsonaro, matchedText: 'Bolsonaro', count: 1 },
          ]
        : [{ qid: lula, matchedText: 'Luiz Inácio Lula da Silva', count: 1 }],
  }),
);
const entities = [
  entity(lula, 'Luiz Inácio Lula da Silva', ['Lula']),
  entity(bolsonaro, 'Jair Bolsonaro', ['Bolsonaro']),
];

test('published articles, entities and dead letters land in their tables', async () => {
  await Promise.all([
    pipeline.publish('article', articles),
    pipeline.publish('entity', entities),
    pipeline.publishDeadLetters('normalise', [sampleDeadLetter()]),
  ]);

  assert.equal(await countFinal(store, 'articles'), 30);
  assert.equal(await countFinal(store, 'entity_mentions'), 40);
  assert.equal(await countFinal(store, 'entities'), 2);
  assert.equal(await countFinal(store, 'dead_letters'), 1);

  const [stored] = await rows<Record<string, unknown>>(
    `SELECT id, title, published_at, fetched_at, mentions, language
     FROM ${store.database}.articles FINAL WHERE id = '${articles[3]!.id}'`,
  );
  assert.deepEqual(stored, {
    id: articles[3]!.id,
    title: 'Matéria 3 sobre o governo',
    published_at: '2026-01-01 00:03:00.000',
    fetched_at: '2026-01-10 12:00:00.000',
    mentions: [
      { qid: lula, matched_text: 'Lula', count: 2 },
      { qid: bolsonaro, matched_text: 'Bolsonaro', count: 1 },
    ],
    language: 'pt-br',
  });

  const [mention] = await rows<Record<string, unknown>>(
    `SELECT article_id, matched_text, mention_count, source, title
     FROM ${store.database}.entity_mentions FINAL
     WHERE qid = '${bolsonaro}' AND article_id = '${articles[3]!.id}'`,
  );
  assert.deepEqual(mention, {
    article_id: articles[3]!.id,
    matched_text: 'Bolsonaro',
    mention_count: 1,
    source: 'rss',
    title: 'Matéria 3 sobre o governo',
  });

  const [lulaRow] = await rows<Record<string, unknown>>(
    `SELECT qid, labels, aliases, social_handles, toString(last_revision_id) AS revision, modified_at
     FROM ${store.database}.entities FINAL WHERE qid = '${lula}'`,
  );
  assert.deepEqual(lulaRow, {
    qid: lula,
    labels: { en: 'Luiz Inácio Lula da Silva', 'pt-br': 'Luiz Inácio Lula da Silva' },
    aliases: ['Lula'],
    social_handles: [{ property: 'P2002', platform: 'twitter', handle: 'luiz' }],
    revision: '2345678901',
    modified_at: '2025-12-20 09:30:00.000',
  });

  const [letter] = await rows<Record<string, unknown>>(
    `SELECT stage, code, original_topic, original_partition, original_offset, original_bytes
     FROM ${store.database}.dead_letters FINAL`,
  );
  assert.deepEqual(letter, {
    stage: 'normalise',
    code: 'FEED_MALFORMED',
    original_topic: 'raw.rss',
    original_partition: 2,
    original_offset: '41',
    original_bytes: Buffer.from([0x00, 0xff, 0x10, 0x41]).toString('base64'),
  });
});

test('replaying the same records does not change what queries count', async () => {
  await Promise.all([
    pipeline.publish('article', articles),
    pipeline.publish('article', articles.slice(0, 10)),
    pipeline.publish('entity', entities),
    pipeline.publishDeadLetters('normalise', [sampleDeadLetter()]),
  ]);

  assert.equal(await countFinal(store, 'articles'), 30);
  assert.equal(await countFinal(store, 'entity_mentions'), 40);
  assert.equal(await countFinal(store, 'entities'), 2);
  assert.equal(await countFinal(store, 'dead_letters'), 1);
});

test('an undecodable canonical record is stored as a dead letter of the sink', async () => {
  const bytes = Buffer.from('{"title": "not avro"}');
  await pipeline.bus.publish(topics.canonical('article'), [{ key: 'broken-1', value: bytes }]);

  const letters = await rows<Record<string, unknown>>(
    `SELECT stage, code, original_topic, original_key, original_bytes, reason
     FROM ${store.database}.dead_letters FINAL WHERE stage = 'sink-clickhouse'`,
  );
  assert.equal(letters.length, 1);
  const [letter] = letters;
  assert.equal(letter!.code, 'RECORD_DECODE_FAILED');
  assert.equal(letter!.original_topic, 'canonical.article');
  assert.equal(letter!.original_key, 'broken-1');
  assert.equal(
    Buffer.from(letter!.original_bytes as string, 'base64').toString(),
    bytes.toString(),
  );
  assert.match(letter!.reason as string, /decoding org.aletheia.canonical.CanonicalArticle/);
  assert.equal(await countFinal(store, 'articles'), 30);
});

test('an article with a time the columns cannot hold is dead-lettered, not retried', async () => {
  const ancient = article({ n: 99, title: 'Data impossível', publishedAt: Date.UTC(1500, 0, 1) });
  await pipeline.publish('article', [ancient]);

  const [letter] = await rows<Record<string, unknown>>(
    `SELECT code, reason FROM ${store.database}.dead_letters FINAL
     WHERE stage = 'sink-clickhouse' AND original_key = '${ancient.id}'`,
  );
  assert.equal(letter?.code, 'RECORD_SCHEMA_INVALID');
  assert.match(letter?.reason as string, /publishedAt: expected a time between 1900 and 2299/);
});

test('an unreadable dead letter is acknowledged and dropped, not looped', async () => {
  const before = await countFinal(store, 'dead_letters');
  await pipeline.bus.publish(topics.deadLetter('rss'), [
    { key: 'x', value: Buffer.from([0xde, 0xad]) },
  ]);
  // Publishing resolves only once the sink acknowledged the record.
  assert.equal(await countFinal(store, 'dead_letters'), before);

  const valid = { ...sampleDeadLetter(), id: 'b'.repeat(32), stage: 'rss' };
  await pipeline.bus.publish(topics.deadLetter('rss'), [
    { key: valid.id, value: codecs.deadLetter.encode(valid) },
  ]);
  assert.equal(await countFinal(store, 'dead_letters'), before + 1);
});

test('health reports the store reachable', async () => {
  assert.deepEqual(await pipeline.sink.health(), { ok: true });
});
