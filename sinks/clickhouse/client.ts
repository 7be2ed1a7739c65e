/**
 * The analytics store: one ClickHouse database, reached either through a ClickHouse server
 * over HTTP (`url` set) or through chDB, ClickHouse embedded in this process, with its data
 * under `<dataDir>/clickhouse`. Everything above this file talks to `@clickhouse/client` and
 * cannot tell the two apart, except for exports, which stream through `exportStream`.
 *
 * Known limits of the embedded store:
 * - chDB binds one data directory per process; `close()` releases it so it can be reopened.
 * - Its `@clickhouse/client` connection materialises every result in memory, so exports use
 *   chDB's native streaming API on a session of their own instead (one per running export).
 * - A `clickhouse_settings` entry is applied as a session-wide `SET` and outlives the query
 *   it came with: pass every setting an insert depends on explicitly, every time.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

import {
  ClickHouseLogLevel,
  createClient,
  type ClickHouseClient,
  type ClickHouseClientConfigOptions,
} from '@clickhouse/client';

import { AletheiaError, toAletheiaError } from '../../runtime/errors.ts';
import type { Logger } from '../../runtime/log.ts';

export type ExportFormat = 'CSVWithNames' | 'JSONEachRow';

export type QueryParams = Record<string, unknown>;

export interface AnalyticsStoreOptions {
  /** ClickHouse server URL; unset selects the embedded chDB store. */
  url?: string | undefined;
  user: string;
  password: string;
  /** Database holding the tables; created by the migrations when missing. */
  database: string;
  /** Folder of the embedded store's data (`<dataDir>/clickhouse`). */
  dataDir: string;
  log: Logger;
}

export interface AnalyticsStore {
  readonly kind: 'chdb' | 'server';
  readonly client: ClickHouseClient;
  /** Validated database name, safe to place in SQL as an identifier. */
  readonly database: string;
  /**
   * Runs one SELECT with server-side parameters and yields the result's bytes in `format`
   * as they come, without holding the whole result. Aborting `signal` cancels the query.
   */
  exportStream(
    sql: string,
    params: QueryParams,
    format: ExportFormat,
    signal?: AbortSignal,
  ): AsyncIterable<Uint8Array>;
  /** Throws STORE_UNAVAILABLE when the store does not answer a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

const identifier = /^[A-Za-z_][A-Za-z0-9_]*$/;

export async function createAnalyticsStore(
  options: AnalyticsStoreOptions,
): Promise<AnalyticsStore> {
  if (!identifier.test(options.database)) {
    throw new AletheiaError(
      'CONFIG_INVALID',
      `expected a ClickHouse database name like aletheia, got '${options.database}'`,
    );
  }

  return options.url ? serverStore(options, options.url) : await embeddedStore(options);
}

/**
 * The database is not given to the client: it may not exist before the migrations create it,
 * and every statement names its tables with the database anyway.
 */
function serverStore(options: AnalyticsStoreOptions, url: string): AnalyticsStore {
  const client = createClient({
    url,
    username: options.user,
    password: options.password,
    log: clientLog(options.log),
  });

  return {
    kind: 'server',
    client,
    database: options.database,
    // `exec` hands over the response body untouched, where `query().stream()` splits it into
    // rows that would have to be joined again.
    async *exportStream(sql, params, format, signal) {
      const result = await client
        .exec({ query: `${sql}\nFORMAT ${format}`, query_params: params, abort_signal: signal })
        .catch((err: unknown) => {
          throw storeError(err, 'starting an export');
        });
      const stream = result.stream as Readable;
      try {
        for await (const chunk of stream) yield chunk as Uint8Array;
      } finally {
        stream.destroy();
      }
    },
    ping: () => ping(client, new URL(url).origin),
    close: () => client.close(),
  };
}

type Chdb = typeof import('chdb');
type ChdbSession = InstanceType<Chdb['Session']>;

async function embeddedStore(options: AnalyticsStoreOptions): Promise<AnalyticsStore> {
  let chdb: Chdb;
  let connection: typeof import('chdb/connection');
  try {
    chdb = await import('chdb');
    connection = await import('chdb/connection');
  } catch (err) {
    throw new AletheiaError(
      'CONFIG_INVALID',
      'the embedded analytics store needs the optional package chdb: install it ' +
        '(npm install chdb) or set ALETHEIA_CLICKHOUSE_URL to a ClickHouse server',
      { cause: err },
    );
  }

  const path = join(options.dataDir, 'clickhouse');
  mkdirSync(path, { recursive: true });
  let client: ClickHouseClient;
  try {
    // chdb types its connection against @clickhouse/client-common, of which the client now
    // bundles its own copy: the same contract under two declarations.
    const chdbConnection = connection.createChdbConnection({ path }) as unknown;
    client = createClient({
      connection: chdbConnection as ClickHouseClientConfigOptions['connection'],
      log: clientLog(options.log),
    });
  } catch (err) {
    throw toAletheiaError(err, 'STORE_UNAVAILABLE', `opening the embedded store in ${path}`);
  }
  options.log.info({ path }, 'embedded analytics store opened');

  // Sessions of running exports, closed on `close()` so the data directory is released.
  const exportSessions = new Set<ChdbSession>();

  return {
    kind: 'chdb',
    client,
    database: options.database,
    async *exportStream(sql, params, format, signal) {
      // One stream at a time per session, so each export opens its own on the same path.
      const session = new chdb.Session(path);
      exportSessions.add(session);
      try {
        const stream = session.queryStreamBind(
          sql,
          params,
          signal ? { format, signal } : { format },
        );
        try {
          yield* withOneHeader(stream, format);
        } finally {
          stream.cancel();
        }
      } catch (err) {
        throw storeError(err, 'streaming an export');
      } finally {
        exportSessions.delete(session);
        session.close();
      }
    },
    ping: () => ping(client, path),
    async close() {
      for (const session of exportSessions) session.close();
      exportSessions.clear();
      await client.close();
      // close() returns before the engine lets go of a connection still in use; waiting here
      // lets the same process open a store again right after.
      await chdb.drainPending();
    },
  };
}

/**
 * chDB's native stream starts every chunk of a *WithNames format with the header line (chdb
 * 3.4): the first is kept, the repeats are cut off.
 */
async function* withOneHeader(
  chunks: AsyncIterable<{ raw(): Uint8Array }>,
  format: ExportFormat,
): AsyncIterable<Uint8Array> {
  let header: Buffer | undefined;
  for await (const chunk of chunks) {
    const bytes = chunk.raw();
    if (format !== 'CSVWithNames') {
      yield bytes;
      continue;
    }

    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (header === undefined) {
      header = Buffer.from(buffer.subarray(0, buffer.indexOf(0x0a) + 1));
      yield bytes;
    } else if (header.length > 0 && buffer.subarray(0, header.length).equals(header)) {
      if (buffer.length > header.length) yield buffer.subarray(header.length);
    } else {
      yield bytes;
    }
  }
}

/**
 * The client's own log lines, at debug in ours: each of its failures also reaches the caller
 * as an error, logged there once at the level it deserves, where the client would print one
 * line per failed request of an outage. Its arguments (SQL settings, query ids) are left out.
 */
function clientLog(log: Logger): ClickHouseClientConfigOptions['log'] {
  const child = log.child({ module: 'clickhouse-client' });
  const write = (params: { message: string; err?: Error }): void =>
    child.debug(params.err ? { err: params.err } : {}, params.message);

  return {
    LoggerClass: class {
      trace = write;
      debug = write;
      info = write;
      warn = write;
      error = write;
    },
    level: ClickHouseLogLevel.WARN,
  };
}

async function ping(client: ClickHouseClient, where: string): Promise<void> {
  const result = await client.ping().catch((err: unknown) => ({ success: false, error: err }));
  if (!result.success) {
    const reason = result.error instanceof Error ? result.error.message : String(result.error);
    throw new AletheiaError(
      'STORE_UNAVAILABLE',
      `pinging the analytics store at ${where}: ${reason}`,
      {
        cause: result.error,
      },
    );
  }
}

const unreachable = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/**
 * Wraps a failure of the store: STORE_UNAVAILABLE when the store could not be reached (worth
 * retrying as is), STORE_QUERY_FAILED when it answered with an error.
 */
export function storeError(err: unknown, operation: string): AletheiaError {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  const network =
    (typeof code === 'string' && unreachable.has(code)) || /timeout|socket hang up/i.test(message);

  return toAletheiaError(err, network ? 'STORE_UNAVAILABLE' : 'STORE_QUERY_FAILED', operation);
}
