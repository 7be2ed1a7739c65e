import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import type { AnalyticsStore } from '../../../sinks/clickhouse/client.ts';
import { exportArticles, exportMentions } from '../../../sinks/clickhouse/export.ts';
import { migrate } from '../../../sinks/clickhouse/migrate.ts';
import { listArticles, listMentions } from '../../../sinks/clickhouse/queries.ts';
import { silentLogger } from '../../../runtime/log.ts';
import { article, bolsonaro, lula, openStore, startPipeline } from './fixtures.ts';

let store: AnalyticsStore;
let closeStore: () => Promise<void>;

before(async () => {
  ({ store, close: closeStore } = await openStore());
  const pipeline = await startPipeline(store);
  await pipeline.publish(
    'article',
    Array.from({ length: 25 }, (_, n) =>
      article({
        n,
        title: `Matéria ${n}, com "aspas" e vírgula`,
        summary: n % 2 === 0 ? null : 'Linha um\nlinha dois',
        mentions:
          n % 2 === 0
            ? [{ qid: lula, matchedText: 'Lula', count: 1 }]
            : [{ qid: bolsonaro, matchedText: 'Bolsonaro', count: 3 }],
      }),
    ),
  );
  await pipeline.stop();
});

after(async () => {
  await closeStore();
});

async function text(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(Buffer.from(chunk));

  return Buffer.concat(parts).toString('utf8');
}

/** A small CSV reader for the store's CSV: quoted fields, doubled quotes, newlines inside. */
function parseCsv(input: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < input.length; i += 1) {
    const c = input[i]!;
    if (quoted) {
      if (c === '"' && input[i + 1] === '"') ((field += '"'), (i += 1));
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') (row.push(field), (field = ''));
    else if (c === '\n') (row.push(field), rows.push(row), (row = []), (field = ''));
    else field += c;
  }

  return rows;
}

test('an NDJSON export holds the rows of the list, in storage order', async () => {
  const listed = await listArticles(store, { limit: 500, source: 'rss' });
  const body = await text(
    exportArticles(store, { source: 'rss' }, { format: 'JSONEachRow', maxRows: 1000 }),
  );
  const exported = body
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as unknown);

  const byId = (a: unknown, b: unknown) =>
    String((a as { id: string }).id).localeCompare(String((b as { id: string }).id));
  assert.equal(exported.length, 25);
  assert.deepEqual(exported, [...exported].sort(byId), 'rows come ordered by id');
  assert.deepEqual(exported, [...listed.data].sort(byId));
});

test('a CSV export has a header and one parseable row per list row', async () => {
  const listed = await listMentions(store, { limit: 500, entity: bolsonaro });
  const rows = parseCsv(
    await text(
      exportMentions(store, { entity: bolsonaro }, { format: 'CSVWithNames', maxRows: 1000 }),
    ),
  );
  const [header, ...data] = rows;

  assert.deepEqual(header, [
    'articleId',
    'qid',
    'matchedText',
    'mentionCount',
    'title',
    'source',
    'language',
    'feedUrl',
    'publishedAt',
    'fetchedAt',
  ]);
  assert.equal(data.length, listed.data.length);
  assert.deepEqual(
    data.map((row) => [row[0], row[2], Number(row[3]), row[4], row[8]]),
    [...listed.data]
      .sort((a, b) => a.articleId.localeCompare(b.articleId))
      .map((m) => [m.articleId, m.matchedText, m.mentionCount, m.title, m.publishedAt]),
  );
});

test('an export stops at maxRows', async () => {
  const body = await text(exportArticles(store, {}, { format: 'JSONEachRow', maxRows: 10 }));

  assert.equal(body.trimEnd().split('\n').length, 10);
});

test('an aborted export ends and a later one still works', async () => {
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(
    text(
      exportArticles(store, {}, { format: 'JSONEachRow', maxRows: 10, signal: controller.signal }),
    ),
  );

  const body = await text(exportArticles(store, {}, { format: 'CSVWithNames', maxRows: 3 }));
  assert.equal(parseCsv(body).length, 4);
});

test('exporting 200k rows does not hold them in memory', async () => {
  const rowCount = 200_000;
  await migrate(store, silentLogger());
  await store.client.command({
    query: `
      INSERT INTO ${store.database}.entity_mentions
      SELECT lower(hex(MD5(toString(number)))), 'Q37181', 'Luiz Inácio Lula da Silva', 1 + number % 3,
             toDateTime64('2025-01-01 00:00:00', 3, 'UTC') + toIntervalSecond(number), now64(3),
             'rss', 'pt-br', 'https://g1.globo.com/rss/g1/politica/',
             concat('Matéria de arquivo número ', toString(number), ' sobre o governo federal')
      FROM numbers(${rowCount})`,
    // chDB keeps the last insert's token for the session: without a token of its own, this
    // insert would pass for a retry of the sink's last one and be ignored.
    clickhouse_settings: { insert_deduplication_token: 'bulk-export-fixture' },
  });

  globalThis.gc?.();
  const baselineBytes = process.memoryUsage().rss;
  let peakBytes = baselineBytes;
  let bytes = 0;
  let lines = 0;
  const started = Date.now();
  for await (const chunk of exportMentions(
    store,
    { entity: lula },
    { format: 'CSVWithNames', maxRows: 1_000_000 },
  )) {
    bytes += chunk.byteLength;
    for (const byte of chunk) if (byte === 0x0a) lines += 1;
    peakBytes = Math.max(peakBytes, process.memoryUsage().rss);
  }

  // One header line, though the rows arrive in several chunks.
  assert.equal(lines, 1 + 13 + rowCount);
  const mb = (n: number) => (n / 1024 / 1024).toFixed(0);
  console.log(
    `export of ${lines - 1} rows: ${mb(bytes)} MB of CSV in ${Date.now() - started} ms; ` +
      `resident memory ${mb(baselineBytes)} MB before, ${mb(peakBytes)} MB at peak`,
  );
});
