/**
 * Canonical records shaped like the pipeline's output for Brazilian news feeds and the
 * Wikidata entities they mention, a throwaway embedded store, and a bus wired to the sink.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { silentLogger } from '../../../runtime/log.ts';
import { MemoryBus } from '../../../runtime/memory-bus.ts';
import { canonicalCodec, codecs, schemaVersion } from '../../../schemas/index.ts';
import { canonicalId, contentHash } from '../../../schemas/identity.ts';
import { allTopics, topics } from '../../../schemas/topics.ts';
import type {
  CanonicalRecord,
  DeadLetter,
  NewsArticle,
  RecordKind,
  WikidataEntity,
} from '../../../schemas/types.ts';
import { createAnalyticsStore, type AnalyticsStore } from '../../../sinks/clickhouse/client.ts';
import { ClickHouseSink } from '../../../sinks/clickhouse/sink.ts';

export const lula = 'Q37181';
export const bolsonaro = 'Q10304982';
export const feedUrl = 'https://g1.globo.com/rss/g1/politica/';

export interface ArticleInput {
  n: number;
  title: string;
  summary?: string | null;
  publishedAt?: number | null;
  fetchedAt?: number;
  source?: string;
  language?: string | null;
  mentions?: { qid: string; matchedText: string; count: number }[];
}

export function article(input: ArticleInput): CanonicalRecord<NewsArticle> {
  const source = input.source ?? 'rss';
  const url = `https://g1.globo.com/politica/noticia/2026/01/materia-${input.n}.ghtml`;
  const payload: NewsArticle = {
    url,
    title: input.title,
    summary: input.summary === undefined ? `Resumo da matéria ${input.n}.` : input.summary,
    content: `Texto completo da matéria ${input.n}.`,
    author: 'Redação g1',
    language: input.language === undefined ? 'pt-br' : input.language,
    categories: ['Política'],
    imageUrl: null,
    feedUrl,
    feedTitle: 'g1 > Política',
    mentions: input.mentions ?? [],
    duplicateOf: null,
  };

  return {
    id: canonicalId(source, url),
    kind: 'article',
    source,
    nativeId: url,
    sourceUrl: feedUrl,
    fetchedAt: input.fetchedAt ?? Date.UTC(2026, 0, 10, 12),
    publishedAt:
      input.publishedAt === undefined ? Date.UTC(2026, 0, 1) + input.n * 60_000 : input.publishedAt,
    contentHash: contentHash({ title: payload.title, summary: payload.summary }),
    schemaVersion,
    payload,
  };
}

export function entity(
  qid: string,
  label: string,
  aliases: string[],
): CanonicalRecord<WikidataEntity> {
  const sourceUrl = `https://www.wikidata.org/wiki/Special:EntityData/${qid}.json`;

  return {
    id: canonicalId('wikidata', qid),
    kind: 'entity',
    source: 'wikidata',
    nativeId: qid,
    sourceUrl,
    fetchedAt: Date.UTC(2026, 0, 10, 8),
    publishedAt: null,
    contentHash: contentHash({ qid, label, aliases }),
    schemaVersion,
    payload: {
      qid,
      label,
      labelLanguage: 'pt-br',
      description: 'político brasileiro',
      descriptionLanguage: 'pt-br',
      labels: { 'pt-br': label, en: label },
      aliases,
      instanceOf: ['Q5'],
      image: `${label.replaceAll(' ', '_')}.jpg`,
      logo: null,
      socialHandles: [
        { property: 'P2002', platform: 'twitter', handle: label.split(' ')[0]!.toLowerCase() },
      ],
      sitelinks: [
        {
          site: 'ptwiki',
          title: label,
          url: `https://pt.wikipedia.org/wiki/${label.replaceAll(' ', '_')}`,
        },
      ],
      lastRevisionId: 2_345_678_901,
      modifiedAt: Date.UTC(2025, 11, 20, 9, 30),
    },
  };
}

export function sampleDeadLetter(): DeadLetter {
  return {
    id: 'a'.repeat(32),
    stage: 'normalise',
    code: 'FEED_MALFORMED',
    reason: 'parsing feed item: missing <link>',
    recordId: null,
    sourceUrl: feedUrl,
    originalTopic: 'raw.rss',
    originalPartition: 2,
    originalOffset: '41',
    originalKey: 'item-41',
    originalBytes: Buffer.from([0x00, 0xff, 0x10, 0x41]),
    failedAt: Date.UTC(2026, 0, 10, 12, 5),
  };
}

export async function openStore(database = 'aletheia_test'): Promise<{
  store: AnalyticsStore;
  dataDir: string;
  close(): Promise<void>;
}> {
  const dataDir = await mkdtemp(join(tmpdir(), 'aletheia-ch-'));
  const store = await createAnalyticsStore({
    user: 'default',
    password: '',
    database,
    dataDir,
    log: silentLogger(),
  });

  return {
    store,
    dataDir,
    async close() {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Pipeline {
  bus: MemoryBus;
  sink: ClickHouseSink;
  publish(kind: RecordKind, records: CanonicalRecord[]): Promise<void>;
  publishDeadLetters(stage: string, letters: DeadLetter[]): Promise<void>;
  stop(): Promise<void>;
}

/** A bus and a started sink writing into the store. */
export async function startPipeline(store: AnalyticsStore, lingerMs = 20): Promise<Pipeline> {
  const bus = new MemoryBus({ partitions: 4, queueMaxRecords: 10_000 });
  await bus.start();
  await bus.ensureTopics(allTopics());
  const sink = new ClickHouseSink({
    bus,
    store,
    log: silentLogger(),
    options: { batchMaxRows: 500, lingerMs },
  });
  await sink.start();

  return {
    bus,
    sink,
    publish: (kind, records) =>
      bus.publish(
        topics.canonical(kind),
        records.map((record) => ({ key: record.id, value: canonicalCodec(kind).encode(record) })),
      ),
    publishDeadLetters: (stage, letters) =>
      bus.publish(
        topics.deadLetter(stage),
        letters.map((letter) => ({ key: letter.id, value: codecs.deadLetter.encode(letter) })),
      ),
    async stop() {
      await sink.stop();
      await bus.stop();
    },
  };
}

/** Rows of a table as the store holds them after replays are folded. */
export async function countFinal(store: AnalyticsStore, table: string): Promise<number> {
  const result = await store.client.query({
    query: `SELECT count() AS n FROM ${store.database}.${table} FINAL`,
    format: 'JSONEachRow',
  });
  const [row] = await result.json<{ n: string | number }>();

  return Number(row?.n ?? 0);
}
