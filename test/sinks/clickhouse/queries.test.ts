import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { isAletheiaError } from '../../../runtime/errors.ts';
import type { CanonicalRecord, NewsArticle } from '../../../schemas/types.ts';
import type { AnalyticsStore } from '../../../sinks/clickhouse/client.ts';
import {
  getArticle,
  getEntity,
  listArticles,
  listEntities,
  listMentions,
  mentionCounts,
  type Filters,
  type Page,
  type PageRequest,
} from '../../../sinks/clickhouse/queries.ts';
import {
  article,
  bolsonaro,
  countFinal,
  entity,
  lula,
  openStore,
  startPipeline,
} from './fixtures.ts';

let store: AnalyticsStore;
let closeStore: () => Promise<void>;

/**
 * 120 articles an hour apart from 2026-01-01; every tenth has no publication time, so those
 * share one fetch time and only their ids order them.
 */
const articles: CanonicalRecord<NewsArticle>[] = Array.from({ length: 120 }, (_, n) =>
  article({
    n,
    title: n % 7 === 0 ? `Ação do GOVERNO número ${n}` : `Matéria ${n}`,
    summary: n % 11 === 0 ? 'Reforma tributária aprovada no Senado' : null,
    publishedAt: n % 10 === 9 ? null : Date.UTC(2026, 0, 1) + n * 3_600_000,
    source: n % 4 === 0 ? 'agencia-brasil' : 'rss',
    language: n % 5 === 0 ? 'en' : 'pt-br',
    mentions: [
      ...(n % 2 === 0 ? [{ qid: lula, matchedText: 'Lula', count: 1 + (n % 3) }] : []),
      ...(n % 3 === 0 ? [{ qid: bolsonaro, matchedText: 'Bolsonaro', count: 1 }] : []),
    ],
  }),
);

before(async () => {
  ({ store, close: closeStore } = await openStore());
  const pipeline = await startPipeline(store);
  await pipeline.publish('article', articles);
  await pipeline.publish('entity', [
    entity(lula, 'Luiz Inácio Lula da Silva', ['Lula', 'Luiz Inácio']),
    entity(bolsonaro, 'Jair Bolsonaro', ['Bolsonaro', 'Jair Messias Bolsonaro']),
  ]);
  await pipeline.stop();
  assert.equal(await countFinal(store, 'articles'), 120);
});

after(async () => {
  await closeStore();
});

const sortAt = (record: CanonicalRecord<NewsArticle>): number =>
  record.publishedAt ?? record.fetchedAt;

/** Ids the store should return for a filter, in its order: newest first, then by id. */
function expected(keep: (record: CanonicalRecord<NewsArticle>) => boolean): string[] {
  return articles
    .filter(keep)
    .sort((a, b) => sortAt(b) - sortAt(a) || (a.id < b.id ? 1 : -1))
    .map((record) => record.id);
}

async function allPages<T>(
  list: (request: PageRequest) => Promise<Page<T>>,
  request: Omit<PageRequest, 'cursor'>,
): Promise<{ rows: T[]; pages: number }> {
  const rows: T[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await list({ ...request, cursor });
    rows.push(...page.data);
    pages += 1;
    cursor = page.nextCursor ?? undefined;
    assert.ok(page.data.length <= request.limit);
  } while (cursor !== undefined);

  return { rows, pages };
}

const articleIds = async (filters: Filters, limit = 500): Promise<string[]> =>
  (await allPages((request) => listArticles(store, request), { ...filters, limit })).rows.map(
    (row) => row.id,
  );

test('pages through all articles without gaps or repeats, newest first', async () => {
  const { rows, pages } = await allPages((request) => listArticles(store, request), { limit: 7 });

  assert.equal(pages, Math.ceil(120 / 7));
  assert.deepEqual(
    rows.map((row) => row.id),
    expected(() => true),
  );
});

test('articles come with camelCase fields and ISO times', async () => {
  const page = await listArticles(store, { limit: 1, entity: bolsonaro, language: 'en' });
  const record = articles.find((a) => a.id === page.data[0]?.id)!;

  assert.deepEqual(page.data[0], {
    id: record.id,
    source: record.source,
    nativeId: record.nativeId,
    sourceUrl: record.sourceUrl,
    url: record.payload.url,
    title: record.payload.title,
    summary: record.payload.summary,
    author: 'Redação g1',
    language: 'en',
    categories: ['Política'],
    imageUrl: null,
    feedUrl: record.payload.feedUrl,
    feedTitle: 'g1 > Política',
    mentions: record.payload.mentions,
    duplicateOf: null,
    publishedAt: record.publishedAt === null ? null : new Date(record.publishedAt).toISOString(),
    fetchedAt: new Date(record.fetchedAt).toISOString(),
    contentHash: record.contentHash,
  });
});

test('filters articles by time, source, language, entity and text', async () => {
  const from = '2026-01-02T00:00:00Z';
  const to = '2026-01-04T12:00:00.000Z';
  const inRange = (a: CanonicalRecord<NewsArticle>) =>
    sortAt(a) >= Date.parse(from) && sortAt(a) < Date.parse(to);

  assert.deepEqual(await articleIds({ from, to }, 10), expected(inRange));
  assert.deepEqual(
    await articleIds({ source: 'agencia-brasil' }),
    expected((a) => a.source === 'agencia-brasil'),
  );
  assert.deepEqual(
    await articleIds({ language: 'en' }, 4),
    expected((a) => a.payload.language === 'en'),
  );
  assert.deepEqual(
    await articleIds({ entity: bolsonaro, from }, 3),
    expected(
      (a) => a.payload.mentions.some((m) => m.qid === bolsonaro) && sortAt(a) >= Date.parse(from),
    ),
  );
  assert.deepEqual(
    await articleIds({ q: 'ação do governo' }),
    expected((a) => a.payload.title.startsWith('Ação do GOVERNO')),
  );
  assert.deepEqual(
    await articleIds({ q: 'REFORMA tributária', source: 'rss' }),
    expected((a) => a.payload.summary !== null && a.source === 'rss'),
  );
  assert.deepEqual(await articleIds({ entity: 'Q1' }), []);
});

test('text that looks like SQL is searched for, not run', async () => {
  for (const q of ["' OR 1=1 --", "x') OR ('1'='1", '{q:String}', "'; DROP TABLE articles; --"]) {
    assert.deepEqual(await articleIds({ q }), [], q);
  }
  assert.deepEqual(await articleIds({ source: "rss' OR '1'='1" }), []);
  assert.equal(await countFinal(store, 'articles'), 120);
});

test('a cursor that is not one of the list is refused', async () => {
  for (const cursor of ['garbage', Buffer.from('{"t":"x","k":[]}').toString('base64url')]) {
    await assert.rejects(listArticles(store, { limit: 5, cursor }), (err) => {
      assert.ok(isAletheiaError(err, 'API_BAD_REQUEST'));
      assert.match(err.message, /^cursor: /);

      return true;
    });
  }

  // A mentions cursor has two keys, an articles cursor one.
  const mentions = await listMentions(store, { limit: 1 });
  await assert.rejects(listArticles(store, { limit: 1, cursor: mentions.nextCursor! }), /cursor/);
});

test('a timestamp out of range is a bad request', async () => {
  await assert.rejects(listArticles(store, { limit: 1, from: '1800-01-01T00:00:00Z' }), (err) =>
    isAletheiaError(err, 'API_BAD_REQUEST'),
  );
});

test('gets one article with its content', async () => {
  const record = articles[42]!;
  const found = await getArticle(store, record.id);

  assert.equal(found?.title, record.payload.title);
  assert.equal(found?.content, record.payload.content);
  assert.equal(await getArticle(store, 'no-such-id'), null);
});

test('lists mentions per article and entity, filtered and paged', async () => {
  const { rows } = await allPages((request) => listMentions(store, request), {
    entity: lula,
    limit: 9,
  });
  const withLula = expected((a) => a.payload.mentions.some((m) => m.qid === lula));

  assert.deepEqual(
    rows.map((row) => row.articleId),
    withLula,
  );
  const first = rows[0]!;
  const record = articles.find((a) => a.id === first.articleId)!;
  assert.deepEqual(first, {
    articleId: record.id,
    qid: lula,
    matchedText: 'Lula',
    mentionCount: record.payload.mentions[0]!.count,
    title: record.payload.title,
    source: record.source,
    language: record.payload.language,
    feedUrl: record.payload.feedUrl,
    publishedAt: record.publishedAt === null ? null : new Date(record.publishedAt).toISOString(),
    fetchedAt: new Date(record.fetchedAt).toISOString(),
  });

  const all = await allPages((request) => listMentions(store, request), { limit: 13 });
  const pairs = all.rows.map((row) => `${row.articleId}/${row.qid}`);
  assert.equal(new Set(pairs).size, pairs.length);
  assert.equal(pairs.length, 60 + 40);
});

test('lists and searches entities by label, alias and QID', async () => {
  const everything = await listEntities(store, { limit: 50 });
  assert.deepEqual(everything.data.map((e) => e.qid).sort(), [bolsonaro, lula].sort());
  assert.equal(everything.nextCursor, null);

  assert.deepEqual(
    (await listEntities(store, { limit: 5, q: 'messias' })).data.map((e) => e.qid),
    [bolsonaro],
  );
  assert.deepEqual(
    (await listEntities(store, { limit: 5, q: 'LUIZ' })).data.map((e) => e.qid),
    [lula],
  );
  assert.deepEqual(
    (await listEntities(store, { limit: 5, q: 'q37181' })).data.map((e) => e.qid),
    [lula],
  );
  assert.deepEqual((await listEntities(store, { limit: 5, q: 'Haddad' })).data, []);
});

test('gets an entity with how many articles mention it', async () => {
  const found = await getEntity(store, bolsonaro);
  const mentioning = articles.filter((a) => a.payload.mentions.some((m) => m.qid === bolsonaro));

  assert.equal(found?.label, 'Jair Bolsonaro');
  assert.deepEqual(found?.aliases, ['Bolsonaro', 'Jair Messias Bolsonaro']);
  assert.deepEqual(found?.socialHandles, [
    { property: 'P2002', platform: 'twitter', handle: 'jair' },
  ]);
  assert.equal(found?.lastRevisionId, 2_345_678_901);
  assert.equal(found?.modifiedAt, '2025-12-20T09:30:00.000Z');
  assert.deepEqual(found?.mentionCounts, {
    articles: mentioning.length,
    mentions: mentioning.length,
    lastMentionedAt: new Date(Math.max(...mentioning.map(sortAt))).toISOString(),
  });

  const from = '2026-01-03T00:00:00Z';
  const ranged = await getEntity(store, bolsonaro, { from });
  assert.equal(
    ranged?.mentionCounts.articles,
    mentioning.filter((a) => sortAt(a) >= Date.parse(from)).length,
  );
  assert.equal(await getEntity(store, 'Q1'), null);
});

test('counts mentions per entity, most mentioned first', async () => {
  const counts = await mentionCounts(store, { limit: 10 });
  const lulaArticles = articles.filter((a) => a.payload.mentions.some((m) => m.qid === lula));

  assert.deepEqual(
    counts.map((c) => [c.qid, c.label, c.articles]),
    [
      [lula, 'Luiz Inácio Lula da Silva', 60],
      [bolsonaro, 'Jair Bolsonaro', 40],
    ],
  );
  assert.equal(
    counts[0]!.mentions,
    lulaArticles.reduce((sum, a) => sum + a.payload.mentions[0]!.count, 0),
  );
});
