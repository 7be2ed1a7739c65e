import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { get as httpGet, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { createApi } from '../../api/server.ts';
import type { Delivery } from '../../runtime/bus.ts';
import { MemoryBus } from '../../runtime/memory-bus.ts';
import { allTopics } from '../../schemas/topics.ts';
import type { Health } from '../../runtime/lifecycle.ts';
import { createLogger, silentLogger } from '../../runtime/log.ts';
import type { CanonicalRecord, NewsArticle } from '../../schemas/types.ts';
import { createAnalyticsStore, type AnalyticsStore } from '../../sinks/clickhouse/client.ts';
import {
  article,
  bolsonaro,
  entity,
  lula,
  openStore,
  sampleDeadLetter,
  startPipeline,
} from '../sinks/clickhouse/fixtures.ts';

const readKey = 'read-only-secret-0123456789';
const exportKey = 'export-and-read-secret-0123456789';
const adminKey = 'operator-secret-0123456789abc';
const apiKeys = [
  `analyst:${readKey}:read`,
  `partner:${exportKey}:read+export`,
  `ops:${adminKey}:admin+metrics`,
];

let store: AnalyticsStore;
let bus: MemoryBus;
const replayed: Delivery[] = [];
let closeStore: () => Promise<void>;
let dataDir: string;
let server: Server;
let base: string;
let health: Record<string, Health> = { 'sink-clickhouse': { ok: true } };
const logLines: Record<string, unknown>[] = [];

const articles: CanonicalRecord<NewsArticle>[] = Array.from({ length: 12 }, (_, n) =>
  article({
    n,
    title: n % 2 === 0 ? `Lula anuncia medida ${n}` : `Oposição critica governo ${n}`,
    mentions: n % 2 === 0 ? [{ qid: lula, matchedText: 'Lula', count: 1 }] : [],
  }),
);

before(async () => {
  ({ store, close: closeStore, dataDir } = await openStore());
  const pipeline = await startPipeline(store);
  await pipeline.publish('article', articles);
  await pipeline.publish('entity', [
    entity(lula, 'Luiz Inácio Lula da Silva', ['Lula']),
    entity(bolsonaro, 'Jair Bolsonaro', ['Bolsonaro']),
  ]);
  await pipeline.publishDeadLetters('normalise', [sampleDeadLetter()]);
  await pipeline.stop();

  bus = new MemoryBus({ partitions: 2, queueMaxRecords: 100 });
  await bus.start();
  await bus.ensureTopics(allTopics());
  await bus.subscribe(
    { group: 'replayed', topics: ['raw.rss'], maxBatchRecords: 10 },
    async (batch) => {
      replayed.push(...batch);
    },
  );

  const log = createLogger('info', {
    write: (line: string) => void logLines.push(JSON.parse(line)),
  });
  const api = await createApi({
    bus,
    store,
    lifecycleHealth: async () => health,
    log,
    apiKeys,
    dataDir,
    exportMaxRows: 1000,
  });
  server = await api.listen(0, '127.0.0.1');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await bus.stop();
  await closeStore();
});

const get = (path: string, key?: string, header: 'bearer' | 'x-api-key' = 'bearer') =>
  fetch(`${base}${path}`, {
    headers:
      key === undefined
        ? {}
        : header === 'bearer'
          ? { authorization: `Bearer ${key}` }
          : { 'x-api-key': key },
  });

async function problem(response: Response, status: number, code: string): Promise<string> {
  assert.equal(response.status, status);
  assert.equal(response.headers.get('content-type'), 'application/problem+json');
  const body = (await response.json()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ['code', 'detail', 'status', 'title', 'type']);
  assert.equal(body.status, status);
  assert.equal(body.code, code);
  assert.equal(typeof body.title, 'string');
  assert.match(body.type as string, /^urn:aletheia:problem:/);

  return body.detail as string;
}

test('health needs no key', async () => {
  const response = await get('/health');

  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { status: 'ok' });
});

test('a request without a key is refused with 401 and a challenge', async () => {
  const response = await get('/v1/articles');

  assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="aletheia"');
  assert.match(await problem(response, 401, 'API_UNAUTHENTICATED'), /API key is required/);
});

test('a wrong key is refused with 401', async () => {
  await problem(await get('/v1/articles', 'not-a-key-of-ours-at-all'), 401, 'API_UNAUTHENTICATED');
  await problem(await get('/v1/articles', `${readKey}x`), 401, 'API_UNAUTHENTICATED');
});

test('a key without the scope is refused with 403', async () => {
  const detail = await problem(await get('/v1/articles/export', readKey), 403, 'API_FORBIDDEN');

  assert.equal(detail, "the API key analyst lacks the scope 'export'");
});

test('a key with the scope gets the list, by either header', async () => {
  for (const header of ['bearer', 'x-api-key'] as const) {
    const response = await get('/v1/articles?limit=5', readKey, header);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { data: { id: string }[]; nextCursor: string | null };
    assert.equal(body.data.length, 5);
    assert.equal(typeof body.nextCursor, 'string');
  }
});

test('pages follow nextCursor to the end', async () => {
  const ids: string[] = [];
  let path = '/v1/articles?limit=5&entity=Q37181';
  for (;;) {
    const body = (await (await get(path, readKey)).json()) as {
      data: { id: string }[];
      nextCursor: string | null;
    };
    ids.push(...body.data.map((row) => row.id));
    if (body.nextCursor === null) break;
    path = `/v1/articles?limit=5&entity=Q37181&cursor=${encodeURIComponent(body.nextCursor)}`;
  }

  assert.deepEqual(
    ids.sort(),
    articles
      .filter((a) => a.payload.mentions.length > 0)
      .map((a) => a.id)
      .sort(),
  );
});

test('bad parameters are refused with a detail saying what is wrong', async () => {
  const cases: [string, RegExp][] = [
    ['/v1/articles?entiy=Q42', /unknown query parameter 'entiy' \(known: from, to, source, entity/],
    ['/v1/articles?entity=abc', /^entity: expected a QID like Q42, got 'abc'$/],
    [
      '/v1/articles?from=yesterday',
      /^from: expected an ISO 8601 date or timestamp.*got 'yesterday'$/,
    ],
    ['/v1/articles?from=2026-01-02T00:00:00', /^from: expected an ISO 8601/],
    ['/v1/articles?limit=0', /^limit: expected a whole number from 1 to 500, got '0'$/],
    ['/v1/articles?limit=501', /^limit: expected a whole number from 1 to 500/],
    ['/v1/articles?cursor=nonsense', /^cursor: /],
    ['/v1/articles?q=a&q=b', /^query parameter 'q' given more than once$/],
    ['/v1/articles?from=2026-02-01&to=2026-01-01', /must be before to/],
    ['/v1/mentions/export?format=xlsx', /^format: expected csv or ndjson, got 'xlsx'$/],
    ['/v1/entities/abc', /^expected a QID like Q42, got 'abc'$/],
    ['/v1/entities?entity=Q1', /unknown query parameter 'entity'/],
  ];
  for (const [path, detail] of cases) {
    const key = path.includes('export') ? exportKey : readKey;
    assert.match(await problem(await get(path, key), 400, 'API_BAD_REQUEST'), detail, path);
  }
});

test('an article and an entity are found by id, or 404', async () => {
  const response = await get(`/v1/articles/${articles[4]!.id}`, readKey);
  assert.equal(response.status, 200);
  const found = (await response.json()) as Record<string, unknown>;
  assert.equal(found.title, 'Lula anuncia medida 4');
  assert.equal(found.content, 'Texto completo da matéria 4.');
  assert.equal(found.nativeId, articles[4]!.nativeId);

  await problem(await get(`/v1/articles/${'0'.repeat(32)}`, readKey), 404, 'API_NOT_FOUND');

  const lulaResponse = await get(`/v1/entities/${lula}`, readKey);
  const lulaBody = (await lulaResponse.json()) as Record<string, unknown>;
  assert.equal(lulaBody.label, 'Luiz Inácio Lula da Silva');
  assert.deepEqual(lulaBody.mentionCounts, {
    articles: 6,
    mentions: 6,
    lastMentionedAt: new Date(articles[10]!.publishedAt!).toISOString(),
  });

  await problem(await get('/v1/entities/Q999999', readKey), 404, 'API_NOT_FOUND');
  await problem(await get('/v1/nothing-here', readKey), 404, 'API_NOT_FOUND');
});

test('mention counts list entities by the articles naming them', async () => {
  const response = await get('/v1/mentions/counts?limit=5', readKey);
  const body = (await response.json()) as { data: unknown[] };

  assert.deepEqual(body.data, [
    {
      qid: lula,
      label: 'Luiz Inácio Lula da Silva',
      articles: 6,
      mentions: 6,
      lastMentionedAt: new Date(articles[10]!.publishedAt!).toISOString(),
    },
  ]);
});

test('an NDJSON export streams the rows of the list', async () => {
  const listed = (await (await get('/v1/articles?limit=500&q=governo', readKey)).json()) as {
    data: unknown[];
  };
  const response = await get('/v1/articles/export?format=ndjson&q=governo', exportKey);

  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'application/x-ndjson; charset=utf-8');
  assert.match(
    response.headers.get('content-disposition') ?? '',
    /^attachment; filename="articles-\d{4}-\d{2}-\d{2}\.ndjson"$/,
  );
  const rows = (await response.text())
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as unknown);
  const byId = (a: unknown, b: unknown) =>
    String((a as { id: string }).id).localeCompare(String((b as { id: string }).id));
  assert.equal(rows.length, 6);
  assert.deepEqual(rows, [...listed.data].sort(byId));
});

test('a CSV export streams a header and the rows of the list', async () => {
  const listed = (await (await get(`/v1/mentions?limit=500&entity=${lula}`, readKey)).json()) as {
    data: { articleId: string; title: string }[];
  };
  const response = await get(`/v1/mentions/export?entity=${lula}`, exportKey);

  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/csv; charset=utf-8');
  const [header, ...lines] = (await response.text()).trimEnd().split('\n');
  assert.equal(
    header,
    '"articleId","qid","matchedText","mentionCount","title","source","language","feedUrl","publishedAt","fetchedAt"',
  );
  assert.deepEqual(
    lines.map((line) => line.split(',').slice(0, 5)),
    [...listed.data]
      .sort((a, b) => a.articleId.localeCompare(b.articleId))
      .map((m) => [`"${m.articleId}"`, `"${lula}"`, '"Lula"', '1', `"${m.title}"`]),
  );
});

test('ready reports 200 with every component, and 503 naming one that is not ready', async () => {
  const ok = await get('/ready');
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), {
    status: 'ready',
    components: { store: { ok: true }, 'sink-clickhouse': { ok: true } },
  });

  health = {
    'sink-clickhouse': { ok: false, detail: 'store unreachable' },
    'ingest.rss': { ok: true },
  };
  try {
    const notReady = await get('/ready');
    assert.equal(notReady.status, 503);
    const body = (await notReady.json()) as { status: string; components: Record<string, Health> };
    assert.equal(body.status, 'not ready');
    assert.deepEqual(body.components['sink-clickhouse'], {
      ok: false,
      detail: 'store unreachable',
    });
  } finally {
    health = { 'sink-clickhouse': { ok: true } };
  }
});

test('ready stays 200, reported degraded, while only a source is failing', async () => {
  // An unreachable news site must not take the API out of a load balancer.
  health = {
    'sink-clickhouse': { ok: true },
    'ingest.rss': { ok: false, detail: 'fetching feed: status 503' },
  };
  try {
    const degraded = await get('/ready');
    assert.equal(degraded.status, 200);
    const body = (await degraded.json()) as { status: string; components: Record<string, Health> };
    assert.equal(body.status, 'degraded');
    assert.equal(body.components['ingest.rss']?.ok, false);
  } finally {
    health = { 'sink-clickhouse': { ok: true } };
  }
});

test('a failing query answers 500 without its internals', async () => {
  // A second store object on the same data directory, pointed at a database that does not exist.
  const missing = await createAnalyticsStore({
    user: 'default',
    password: '',
    database: 'no_such_database',
    dataDir,
    log: silentLogger(),
  });
  const lines: Record<string, unknown>[] = [];
  const api = await createApi({
    bus,
    store: missing,
    lifecycleHealth: async () => ({}),
    log: createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) }),
    apiKeys,
    dataDir,
    exportMaxRows: 10,
  });
  const other = await api.listen(0, '127.0.0.1');
  try {
    const port = (other.address() as AddressInfo).port;
    for (const path of ['/v1/articles', '/v1/articles/export']) {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        headers: { authorization: `Bearer ${exportKey}` },
      });
      assert.equal(await problem(response, 500, 'STORE_QUERY_FAILED'), 'internal error');
    }
    const failure = lines.find((line) => line.msg === 'request failed');
    assert.equal(failure?.level, 50);
    assert.match(JSON.stringify(failure?.err), /no_such_database/);
  } finally {
    await new Promise((resolve) => other.close(resolve));
    await missing.close();
  }
});

test('one log line per request, with its route and no key or query values', async () => {
  logLines.length = 0;
  await (await get(`/v1/entities/${lula}?from=2026-01-01`, exportKey)).text();
  await (await get('/v1/articles?q=segredo-na-busca', 'wrong-key-wrong-key')).text();
  await new Promise((resolve) => setTimeout(resolve, 20));

  const requests = logLines.filter((line) => line.msg === 'request');
  assert.equal(requests.length, 2);
  assert.equal(requests[0]!.route, '/v1/entities/:qid');
  assert.equal(requests[0]!.status, 200);
  assert.equal(requests[0]!.method, 'GET');
  assert.equal(typeof requests[0]!.durationMs, 'number');
  assert.equal(requests[1]!.status, 401);
  const all = JSON.stringify(logLines);
  for (const secret of [exportKey, 'wrong-key-wrong-key', 'segredo-na-busca']) {
    assert.ok(!all.includes(secret), `the log holds ${secret}`);
  }
});

test('without configured keys one is generated, kept private and reused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aletheia-api-'));
  try {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger('info', {
      write: (line: string) => void lines.push(JSON.parse(line)),
    });
    const options = {
      store,
      bus,
      lifecycleHealth: async () => ({}),
      log,
      apiKeys: [],
      dataDir: dir,
      exportMaxRows: 10,
    };
    const first = await createApi(options);
    const keyFile = join(dir, 'api-key');
    const key = (await readFile(keyFile, 'utf8')).trim();
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    assert.ok(key.length >= 32);
    assert.ok(!JSON.stringify(lines).includes(key));
    assert.equal(lines[0]?.path, keyFile);

    await createApi(options);
    assert.equal((await readFile(keyFile, 'utf8')).trim(), key);

    const generated = await first.listen(0, '127.0.0.1');
    try {
      const port = (generated.address() as AddressInfo).port;
      const response = await fetch(`http://127.0.0.1:${port}/v1/entities/export?format=ndjson`, {
        headers: { 'x-api-key': key },
      });
      assert.equal(response.status, 200);
      assert.equal((await response.text()).trimEnd().split('\n').length, 2);
    } finally {
      await new Promise((resolve) => generated.close(resolve));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a client leaving mid-export ends the query', async () => {
  await store.client.command({
    query: `
      INSERT INTO ${store.database}.entity_mentions
      SELECT lower(hex(MD5(toString(number)))), 'Q10304982', 'Bolsonaro', 1,
             toDateTime64('2025-01-01 00:00:00', 3, 'UTC') + toIntervalSecond(number), now64(3),
             'rss', 'pt-br', 'https://g1.globo.com/rss/g1/politica/',
             concat('Matéria de arquivo número ', toString(number))
      FROM numbers(300000)`,
    // chDB keeps the last insert's token for the session: this insert needs its own.
    clickhouse_settings: { insert_deduplication_token: 'api-abort-fixture' },
  });
  const lines: Record<string, unknown>[] = [];
  const api = await createApi({
    bus,
    store,
    lifecycleHealth: async () => ({}),
    log: createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) }),
    apiKeys,
    dataDir,
    exportMaxRows: 1_000_000,
  });
  const large = await api.listen(0, '127.0.0.1');
  const largeBase = `http://127.0.0.1:${(large.address() as AddressInfo).port}`;

  // The client reads one chunk and hangs up; the rest of the 300k rows cannot all have been
  // sent by then, as the server only writes what the connection takes.
  await new Promise<void>((resolve, reject) => {
    const request = httpGet(
      `${largeBase}/v1/mentions/export?entity=${bolsonaro}`,
      { headers: { authorization: `Bearer ${exportKey}` } },
      (response) => {
        assert.equal(response.statusCode, 200);
        response.once('data', () => {
          request.destroy();
          resolve();
        });
      },
    );
    request.on('error', (err) =>
      (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(err),
    );
  });

  for (let i = 0; i < 100 && !lines.some((line) => line.msg === 'request'); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await new Promise((resolve) => large.close(resolve));
  const [line] = lines.filter((entry) => entry.msg === 'request');
  assert.equal(line?.route, '/v1/mentions/export');
  assert.equal(line?.aborted, true);

  // The export's session is gone: another export runs to its end.
  const again = await get(`/v1/mentions/export?entity=${lula}&format=ndjson`, exportKey);
  assert.equal((await again.text()).trimEnd().split('\n').length, 6);
});

test('lists dead letters for the admin scope only', async () => {
  assert.equal((await get('/v1/dead-letters', readKey)).status, 403);

  const response = await get('/v1/dead-letters?stage=normalise', adminKey);
  assert.equal(response.status, 200);
  const body = (await response.json()) as { data: Record<string, unknown>[] };
  assert.deepEqual(
    body.data.map(({ id, stage, code, originalTopic, originalKey, originalBytesLength }) => ({
      id,
      stage,
      code,
      originalTopic,
      originalKey,
      originalBytesLength,
    })),
    [
      {
        id: 'a'.repeat(32),
        stage: 'normalise',
        code: 'FEED_MALFORMED',
        originalTopic: 'raw.rss',
        originalKey: 'item-41',
        originalBytesLength: 4,
      },
    ],
  );
  assert.deepEqual(
    ((await (await get('/v1/dead-letters?stage=rss', adminKey)).json()) as { data: [] }).data,
    [],
  );
});

test('replays a dead letter onto its original topic with its original key and bytes', async () => {
  const replay = (body: unknown, key = adminKey) =>
    fetch(`${base}/v1/dead-letters/replay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  assert.equal((await replay({ ids: ['a'.repeat(32)] }, exportKey)).status, 403);
  assert.equal((await replay({ ids: ['not-an-id'] })).status, 400);
  assert.equal((await replay({ ids: [] })).status, 400);

  const response = await replay({ ids: ['a'.repeat(32), 'b'.repeat(32)] });
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), {
    data: [
      { id: 'a'.repeat(32), replayed: true, detail: 'raw.rss' },
      { id: 'b'.repeat(32), replayed: false, detail: 'no dead letter with this id' },
    ],
  });
  assert.equal(replayed.length, 1);
  assert.equal(replayed[0]?.key, 'item-41');
  assert.deepEqual(replayed[0]?.value, Buffer.from([0x00, 0xff, 0x10, 0x41]));
});

test('serves Prometheus metrics to the metrics scope only', async () => {
  assert.equal((await get('/metrics', readKey)).status, 403);

  const response = await get('/metrics', adminKey);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  assert.match(await response.text(), /^# HELP aletheia_records_in_total /m);
});
