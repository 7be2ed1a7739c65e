/**
 * The sink against a ClickHouse server that goes away: a local HTTP server speaks the parts
 * of ClickHouse's HTTP interface the sink uses (ping, DDL, SELECT, INSERT ... FORMAT
 * JSONEachRow) and drops connections while "down".
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';

import { createLogger } from '../../../runtime/log.ts';
import { MemoryBus } from '../../../runtime/memory-bus.ts';
import { canonicalCodec } from '../../../schemas/index.ts';
import { allTopics, topics } from '../../../schemas/topics.ts';
import { createAnalyticsStore, type AnalyticsStore } from '../../../sinks/clickhouse/client.ts';
import { ClickHouseSink } from '../../../sinks/clickhouse/sink.ts';
import { article, lula } from './fixtures.ts';

interface Insert {
  table: string;
  token: string | null;
  rows: Record<string, unknown>[];
}

let server: Server;
let down = false;
let refused = 0;
const inserts: Insert[] = [];
const statements: string[] = [];

async function body(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);

  return Buffer.concat(chunks).toString('utf8');
}

before(async () => {
  server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://clickhouse');
    const text = await body(request);
    if (down) {
      refused += 1;
      request.socket.destroy();

      return;
    }
    if (url.pathname === '/ping') return void response.end('Ok.\n');

    response.setHeader('X-ClickHouse-Query-Id', 'test-query');
    response.setHeader('X-ClickHouse-Summary', '{"read_rows":"0","written_rows":"0"}');
    const query = url.searchParams.get('query');
    if (query?.startsWith('INSERT INTO')) {
      const table = /^INSERT INTO (\S+)/.exec(query)![1]!;
      const rows = text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      inserts.push({ table, token: url.searchParams.get('insert_deduplication_token'), rows });

      return void response.end();
    }

    statements.push(text);
    if (text.startsWith('SELECT number')) {
      const n = Number(url.searchParams.get('param_n'));
      for (let i = 0; i < n; i += 1) response.write(`{"number":${i}}\n`);

      return void response.end();
    }
    // No migration applied yet; every DDL statement succeeds.
    response.setHeader('Content-Type', 'application/x-ndjson');
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test('an outage holds the batch unacknowledged until the store is back', async () => {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) });
  const store: AnalyticsStore = await createAnalyticsStore({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    user: 'default',
    password: '',
    database: 'aletheia',
    dataDir: '/nonexistent',
    log,
  });
  const bus = new MemoryBus({ partitions: 2, queueMaxRecords: 1000 });
  await bus.start();
  await bus.ensureTopics(allTopics());
  const sink = new ClickHouseSink({
    bus,
    store,
    log,
    options: { batchMaxRows: 1000, lingerMs: 10 },
  });
  await sink.start();

  try {
    assert.ok(
      statements.some((sql) => sql.includes('CREATE TABLE IF NOT EXISTS aletheia.articles')),
    );

    down = true;
    const records = Array.from({ length: 5 }, (_, n) =>
      article({
        n,
        title: `Matéria ${n}`,
        mentions: [{ qid: lula, matchedText: 'Lula', count: 1 }],
      }),
    );
    let published = false;
    const publishing = bus
      .publish(
        topics.canonical('article'),
        records.map((record) => ({
          key: record.id,
          value: canonicalCodec('article').encode(record),
        })),
      )
      .then(() => (published = true));

    while (refused < 3) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(published, false);
    assert.equal((await sink.health()).ok, false);
    const warnings = lines.filter(
      (line) => line.msg === 'analytics store insert failed; batches will be retried',
    );
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.level, 40);
    assert.match(JSON.stringify(warnings[0]!.err), /STORE_UNAVAILABLE/);

    down = false;
    await publishing;

    const articleIds = new Set(
      inserts
        .filter((i) => i.table === 'aletheia.articles')
        .flatMap((i) => i.rows.map((row) => row.id)),
    );
    assert.deepEqual([...articleIds].sort(), records.map((record) => record.id).sort());
    const mentions = inserts
      .filter((i) => i.table === 'aletheia.entity_mentions')
      .flatMap((i) => i.rows);
    assert.ok(mentions.every((row) => row.qid === lula));
    const sinkInserts = inserts.filter((i) => i.table !== 'aletheia.schema_migrations');
    assert.ok(sinkInserts.every((i) => /^[0-9a-f]{64}$/.test(i.token ?? '')));
    assert.ok(lines.some((line) => line.msg === 'analytics store inserts succeed again'));
    assert.deepEqual(await sink.health(), { ok: true });
  } finally {
    down = false;
    await sink.stop();
    await bus.stop();
    await store.close();
  }
});

test('an export from a server passes its parameters and streams the body untouched', async () => {
  const store = await createAnalyticsStore({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    user: 'default',
    password: '',
    database: 'aletheia',
    dataDir: '/nonexistent',
    log: createLogger('silent'),
  });
  try {
    const sql = 'SELECT number FROM numbers({n:UInt32})';
    const chunks: Buffer[] = [];
    for await (const chunk of store.exportStream(sql, { n: 3 }, 'JSONEachRow')) {
      chunks.push(Buffer.from(chunk));
    }

    assert.equal(statements.at(-1), `${sql}\nFORMAT JSONEachRow`);
    assert.equal(Buffer.concat(chunks).toString(), '{"number":0}\n{"number":1}\n{"number":2}\n');
  } finally {
    await store.close();
  }
});
