/**
 * Schema migrations of the analytics store: the `NNNN-name.sql` files in `migrations/`,
 * applied in order of their number and recorded in `schema_migrations` with a checksum of
 * their text. A migration already applied whose file changed since is refused, because the
 * store no longer matches what the code expects and nothing can tell how to bring it there.
 *
 * `{{database}}` in a file stands for the configured database. ClickHouse has no
 * transactional DDL: a migration that fails halfway leaves its first statements applied, so
 * every statement must be safe to run twice (IF NOT EXISTS). Two processes migrating one
 * server at the same moment are not guarded against.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

import { AletheiaError, toAletheiaError } from '../../runtime/errors.ts';
import type { Logger } from '../../runtime/log.ts';
import { storeError, type AnalyticsStore } from './client.ts';

export const migrationsDir = fileURLToPath(new URL('./migrations/', import.meta.url));

export interface Migration {
  version: number;
  name: string;
  checksum: string;
  sql: string;
}

interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
}

const fileName = /^(\d{4})-([a-z0-9-]+)\.sql$/;

export async function readMigrations(dir = migrationsDir): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for (const file of (await readdir(dir)).sort()) {
    const match = fileName.exec(file);
    if (!match) continue;

    const sql = await readFile(join(dir, file), 'utf8');
    const checksum = createHash('sha256').update(sql).digest('hex');
    migrations.push({ version: Number(match[1]), name: match[2]!, checksum, sql });
  }

  return migrations;
}

/** Applies the migrations not applied yet; returns the versions it applied. */
export async function migrate(
  store: AnalyticsStore,
  log: Logger,
  dir = migrationsDir,
): Promise<number[]> {
  const db = store.database;
  const migrations = await readMigrations(dir);

  await run(store, `CREATE DATABASE IF NOT EXISTS ${db}`, 'creating the database');
  await run(
    store,
    `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations
     (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC'))
     ENGINE = MergeTree ORDER BY version`,
    'creating schema_migrations',
  );

  const applied = await appliedMigrations(store);
  checkApplied(applied, migrations);

  const done = new Set(applied.map((migration) => migration.version));
  const versions: number[] = [];
  for (const migration of migrations) {
    if (done.has(migration.version)) continue;

    const label = `${String(migration.version).padStart(4, '0')}-${migration.name}`;
    for (const statement of statements(migration.sql, db)) {
      await run(store, statement, `applying migration ${label}`);
    }
    await store.client
      .insert({
        table: `${db}.schema_migrations`,
        format: 'JSONEachRow',
        values: [
          {
            version: migration.version,
            name: migration.name,
            checksum: migration.checksum,
            applied_at: new Date().toISOString().replace('T', ' ').replace('Z', ''),
          },
        ],
      })
      .catch((err: unknown) => {
        throw migrationError(err, `recording migration ${label}`);
      });
    log.info({ version: migration.version, name: migration.name }, 'migration applied');
    versions.push(migration.version);
  }

  return versions;
}

async function appliedMigrations(store: AnalyticsStore): Promise<AppliedMigration[]> {
  try {
    const result = await store.client.query({
      query: `SELECT version, name, checksum FROM ${store.database}.schema_migrations
              ORDER BY version`,
      format: 'JSONEachRow',
    });

    return await result.json<AppliedMigration>();
  } catch (err) {
    throw migrationError(err, 'reading schema_migrations');
  }
}

function checkApplied(applied: AppliedMigration[], migrations: Migration[]): void {
  const byVersion = new Map(migrations.map((migration) => [migration.version, migration]));
  for (const record of applied) {
    const label = `${String(record.version).padStart(4, '0')}-${record.name}`;
    const file = byVersion.get(record.version);
    if (!file) {
      throw new AletheiaError(
        'STORE_MIGRATION_FAILED',
        `migration ${label} is applied to the store but missing from the migrations folder`,
      );
    }
    if (file.checksum !== record.checksum) {
      throw new AletheiaError(
        'STORE_MIGRATION_FAILED',
        `migration ${label} changed after it was applied (checksum ` +
          `${record.checksum.slice(0, 12)} in the store, ${file.checksum.slice(0, 12)} on disk): ` +
          'add a new migration instead',
      );
    }
  }
}

/** The statements of a migration file: comment lines dropped, split at a `;` ending a line. */
export function statements(sql: string, database: string): string[] {
  return sql
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n')
    .split(/;\s*$/m)
    .map((statement) => statement.trim())
    .filter(Boolean)
    .map((statement) => statement.replaceAll('{{database}}', database));
}

async function run(store: AnalyticsStore, query: string, operation: string): Promise<void> {
  try {
    await store.client.command({ query });
  } catch (err) {
    throw migrationError(err, operation);
  }
}

/** STORE_UNAVAILABLE when the store could not be reached, STORE_MIGRATION_FAILED otherwise. */
function migrationError(err: unknown, operation: string): AletheiaError {
  const wrapped = storeError(err, operation);
  if (wrapped.code === 'STORE_UNAVAILABLE') return wrapped;

  return toAletheiaError(err, 'STORE_MIGRATION_FAILED', operation);
}
