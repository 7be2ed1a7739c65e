import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { FEED_ITEM_CONTENT_TYPE } from '../../ingest/rss.ts';
import { wikidataEntityContentType } from '../../ingest/wikidata.ts';
import { ProcessStage } from '../../processors/process.ts';
import type { Delivery } from '../../runtime/bus.ts';
import { CheckpointStore } from '../../runtime/checkpoint.ts';
import { silentLogger } from '../../runtime/log.ts';
import { MemoryBus } from '../../runtime/memory-bus.ts';
import { canonicalId } from '../../schemas/identity.ts';
import { codecs } from '../../schemas/index.ts';
import { allTopics, topics } from '../../schemas/topics.ts';
import type { CanonicalRecord, DeadLetter, NewsArticle } from '../../schemas/types.ts';

const feedUrl = 'https://noticias.example.com.br/politica/feed.xml';

function feedItem(guid: string, item: Record<string, unknown>, language?: string) {
  return {
    key: canonicalId('rss', guid),
    value: codecs.raw.encode({
      id: canonicalId('rss', guid),
      source: 'rss',
      nativeId: guid,
      sourceUrl: feedUrl,
      fetchedAt: Date.UTC(2026, 11, 1, 12),
      contentType: FEED_ITEM_CONTENT_TYPE,
      body: Buffer.from(JSON.stringify({ guid, ...item })),
      context: {
        feedUrl,
        feedTitle: 'Notícias Exemplo',
        feedFormat: 'rss',
        ...(language ? { feedLanguage: language } : {}),
      },
    }),
  };
}

const lula = {
  key: canonicalId('wikidata', 'Q37181'),
  value: codecs.raw.encode({
    id: canonicalId('wikidata', 'Q37181'),
    source: 'wikidata',
    nativeId: 'Q37181',
    sourceUrl: 'https://www.wikidata.org/wiki/Q37181',
    fetchedAt: Date.UTC(2026, 11, 1, 12),
    contentType: wikidataEntityContentType,
    body: Buffer.from(
      JSON.stringify({
        id: 'Q37181',
        type: 'item',
        lastrevid: 2418823117,
        modified: '2026-11-28T14:02:11Z',
        labels: { 'pt-br': { language: 'pt-br', value: 'Luiz Inácio Lula da Silva' } },
        descriptions: {},
        aliases: { 'pt-br': [{ language: 'pt-br', value: 'Lula' }] },
        claims: {},
        sitelinks: {},
      }),
    ),
    context: {},
  }),
};

describe('ProcessStage', () => {
  let dataDir: string;
  let bus: MemoryBus;
  let stage: ProcessStage;
  const articles: CanonicalRecord<NewsArticle>[] = [];
  const letters: DeadLetter[] = [];
  let failNextArticleBatches = 0;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'aletheia-process-'));
    bus = new MemoryBus({ partitions: 2, queueMaxRecords: 1000 });
    await bus.start();
    await bus.ensureTopics(allTopics());
    await bus.subscribe(
      { group: 'test-articles', topics: [topics.canonical('article')], maxBatchRecords: 100 },
      async (batch: Delivery[]) => {
        if (failNextArticleBatches > 0) {
          failNextArticleBatches -= 1;
          throw new Error('store unavailable');
        }
        articles.push(...batch.map((delivery) => codecs.article.decode(delivery.value)));
      },
    );
    await bus.subscribe(
      {
        group: 'test-dead-letters',
        topics: ['normalise', 'link-entities'].map(topics.deadLetter),
        maxBatchRecords: 100,
      },
      async (batch) => {
        letters.push(...batch.map((delivery) => codecs.deadLetter.decode(delivery.value)));
      },
    );

    stage = new ProcessStage({
      bus,
      checkpoints: new CheckpointStore(dataDir),
      log: silentLogger(),
      options: { trackedEntities: ['Q37181'], linkWaitMs: 5000, maxBatchRecords: 50 },
    });
    await stage.start();
    await bus.publish(topics.raw('wikidata'), [lula]);
  });

  after(async () => {
    await stage.stop();
    await bus.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('normalises, detects the language and links tracked entities', async () => {
    await bus.publish(topics.raw('rss'), [
      feedItem('n-1', {
        title: 'Lula sanciona lei de dados abertos',
        link: 'https://noticias.example.com.br/politica/n-1',
        content: '<p>O presidente <b>Lula</b> disse que a lei entra em vigor em 90 dias.</p>',
      }),
    ]);

    const article = articles.find((record) => record.nativeId === 'n-1');
    assert.equal(article?.payload.language, 'pt');
    assert.deepEqual(
      article?.payload.mentions.map((mention) => ({ ...mention })),
      [{ qid: 'Q37181', matchedText: 'Lula', count: 2 }],
    );
  });

  it('drops a replayed record and marks a copy under another id', async () => {
    const item = {
      title: 'Câmara aprova projeto de transparência',
      link: 'https://noticias.example.com.br/politica/n-2',
    };
    await bus.publish(topics.raw('rss'), [feedItem('n-2', item, 'pt-BR')]);
    await bus.publish(topics.raw('rss'), [feedItem('n-2', item, 'pt-BR')]);
    await bus.publish(topics.raw('rss'), [feedItem('n-2-copy', item, 'pt-BR')]);

    assert.equal(articles.filter((record) => record.nativeId === 'n-2').length, 1);
    const copy = articles.find((record) => record.nativeId === 'n-2-copy');
    assert.equal(copy?.payload.duplicateOf, canonicalId('rss', 'n-2'));
    assert.equal(copy?.payload.language, 'pt-br');
  });

  it('passes a record again when its first delivery downstream failed', async () => {
    // Dedupe must only remember what downstream acknowledged, or the redelivered batch is lost.
    failNextArticleBatches = 1;
    await bus.publish(topics.raw('rss'), [
      feedItem('n-3', { title: 'Senado vota MP', link: 'https://noticias.example.com.br/n-3' }),
    ]);

    assert.equal(articles.filter((record) => record.nativeId === 'n-3').length, 1);
  });

  it('dead-letters bad records with their bytes and keeps going', async () => {
    const garbage = { key: 'k', value: Buffer.from([0xff, 0x00, 0x13]) };
    const unsupported = feedItem('n-4', {
      title: 'x',
      link: 'https://noticias.example.com.br/n-4',
    });
    const unsupportedRaw = codecs.raw.decode(unsupported.value);
    const unknownType = {
      key: 'u',
      value: codecs.raw.encode({ ...unsupportedRaw, contentType: 'text/x-unknown' }),
    };
    const noUrl = feedItem('n-5', { title: 'Sem link', link: 'javascript:alert(1)' });
    const good = feedItem('n-6', { title: 'Ok', link: 'https://noticias.example.com.br/n-6' });

    await bus.publish(topics.raw('rss'), [garbage, unknownType, noUrl, good]);

    assert.deepEqual(letters.map((letter) => [letter.stage, letter.code]).sort(), [
      ['normalise', 'RECORD_DECODE_FAILED'],
      ['normalise', 'RECORD_UNSUPPORTED'],
      ['normalise', 'RECORD_UNSUPPORTED'],
    ]);
    assert.ok(letters.some((letter) => letter.originalBytes.equals(garbage.value)));
    assert.ok(letters.every((letter) => letter.originalTopic === 'raw.rss'));
    assert.ok(articles.some((record) => record.nativeId === 'n-6'));
  });
});
