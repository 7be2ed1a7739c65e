import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { isAletheiaError } from '../../../runtime/errors.ts';
import { silentLogger } from '../../../runtime/log.ts';
import { payloadSchemas, readSchema } from '../../../schemas/index.ts';
import type { AnalyticsStore } from '../../../sinks/clickhouse/client.ts';
import { migrate, migrationsDir, readMigrations } from '../../../sinks/clickhouse/migrate.ts';
import { openStore } from './fixtures.ts';

let store: AnalyticsStore;
let close: () => Promise<void>;

before(async () => {
  ({ store, close } = await openStore());
});

after(async () => {
  await close();
});

async function columnsOf(table: string): Promise<Set<string>> {
  const result = await store.client.query({
    query:
      'SELECT name FROM system.columns WHERE database = {db:String} AND table = {table:String}',
    query_params: { db: store.database, table },
    format: 'JSONEachRow',
  });

  return new Set((await result.json<{ name: string }>()).map((row) => row.name));
}

const snakeCase = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const fieldNames = (file: string): string[] =>
  (readSchema(file).fields as { name: string }[]).map((field) => field.name);

test('migrations apply once, in order, and are recorded with their checksums', async () => {
  const files = await readMigrations();
  assert.deepEqual(
    files.map((migration) => migration.version),
    [1, 2],
  );

  const applied = await migrate(store, silentLogger());
  assert.deepEqual(applied, [1, 2]);

  const result = await store.client.query({
    query: `SELECT version, name, checksum FROM ${store.database}.schema_migrations ORDER BY version`,
    format: 'JSONEachRow',
  });
  const recorded = await result.json<{ version: number; name: string; checksum: string }>();
  assert.deepEqual(
    recorded,
    files.map(({ version, name, checksum }) => ({ version, name, checksum })),
  );
});

test('running the migrations again changes nothing', async () => {
  assert.deepEqual(await migrate(store, silentLogger()), []);

  const result = await store.client.query({
    query: `SELECT count() AS n FROM ${store.database}.schema_migrations`,
    format: 'JSONEachRow',
  });
  assert.equal(Number((await result.json<{ n: string }>())[0]?.n), 2);
});

test('a migration edited after it was applied is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aletheia-migrations-'));
  try {
    await cp(migrationsDir, dir, { recursive: true });
    const file = join(dir, '0001-canonical-tables.sql');
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace('title String,', 'title String, x String,'),
    );

    await assert.rejects(migrate(store, silentLogger(), dir), (err) => {
      assert.ok(isAletheiaError(err, 'STORE_MIGRATION_FAILED'));
      assert.match(err.message, /0001-canonical-tables changed after it was applied/);

      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a new migration file is applied after the recorded ones', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aletheia-migrations-'));
  try {
    await cp(migrationsDir, dir, { recursive: true });
    await writeFile(
      join(dir, '0003-article-word-count.sql'),
      '-- a later change\nALTER TABLE {{database}}.articles ADD COLUMN IF NOT EXISTS word_count UInt32;\n',
    );

    assert.deepEqual(await migrate(store, silentLogger(), dir), [3]);
    assert.ok((await columnsOf('articles')).has('word_count'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('every Avro field of the envelope and each payload has its column', async () => {
  const envelope = fieldNames('envelope.avsc');
  const tableOfKind = {
    entity: 'entities',
    article: 'articles',
    social_post: 'social_posts',
    archive_snapshot: 'archive_snapshots',
  } as const;

  for (const [kind, { file }] of Object.entries(payloadSchemas)) {
    const table = tableOfKind[kind as keyof typeof tableOfKind];
    const columns = await columnsOf(table);
    for (const field of [...envelope, ...fieldNames(file)]) {
      assert.ok(columns.has(snakeCase(field)), `${table} lacks a column for ${kind}.${field}`);
    }
  }

  const deadLetters = await columnsOf('dead_letters');
  for (const field of fieldNames('dead-letter.avsc')) {
    assert.ok(deadLetters.has(snakeCase(field)), `dead_letters lacks a column for ${field}`);
  }

  // entity_mentions names the mention's count mention_count, beside the article's columns.
  const mentions = await columnsOf('entity_mentions');
  for (const field of fieldNames('entity-mention.avsc')) {
    const column = field === 'count' ? 'mention_count' : snakeCase(field);
    assert.ok(mentions.has(column), `entity_mentions lacks a column for ${field}`);
  }
});
