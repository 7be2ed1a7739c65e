/**
 * One run of the export benchmark, in a child process of its own so its peak RSS is its
 * own. Argument 1 is the mode, `--seed-dir` the store's folder, `--from` an optional time
 * filter (ISO 8601):
 *
 * - `seed`: fills the store (export-seed.ts) unless its marker says it is ready.
 * - `native`: streams the exact SQL of the API's CSV export (`exportQuery`) with chDB's own
 *   `queryStreamBind` on a fresh session, counting bytes; timed from opening the session to
 *   the last chunk.
 * - `api`: starts the Koa API on 127.0.0.1 and sends `ready` with its URL and key; the parent
 *   downloads the export, then sends `stop`, and this process reports its peak RSS.
 */
import type { Server } from 'node:http';
import { join } from 'node:path';

import { createApi } from '../../api/server.ts';
import { silentLogger } from '../../runtime/log.ts';
import { MemoryBus } from '../../runtime/memory-bus.ts';
import { allTopics } from '../../schemas/topics.ts';
import { createAnalyticsStore, type AnalyticsStore } from '../../sinks/clickhouse/client.ts';
import { exportQuery } from '../../sinks/clickhouse/export.ts';
import { peakRssBytes, received, report } from './child.ts';
import { benchApiSecret, removeSeed, seed, seedIsReady } from './export-seed.ts';
import { flag, intOption } from './options.ts';

export type ExportRunResult = {
  type: 'result';
  mode: 'seed' | 'native' | 'api';
  /** Native runs: time, bytes and rows streamed. */
  elapsedMs?: number;
  bytes?: number;
  rows?: number;
  seeded?: boolean;
  peakRssBytes: number;
};

/** The API's own default; the filter, not this limit, decides how many rows come. */
const exportMaxRows = 10_000_000;

const log = silentLogger();
const mode = process.argv[2];
const seedDir = flag('seed-dir')!;
const from = flag('from');

async function openStore(): Promise<AnalyticsStore> {
  return createAnalyticsStore({
    user: 'default',
    password: '',
    database: 'aletheia',
    dataDir: seedDir,
    log,
  });
}

async function runSeed(): Promise<ExportRunResult> {
  const rows = intOption('rows', 1_000_000);
  if (await seedIsReady(seedDir, rows)) {
    return { type: 'result', mode: 'seed', seeded: false, peakRssBytes: peakRssBytes() };
  }

  await removeSeed(seedDir);
  const store = await openStore();
  try {
    await seed(store, seedDir, rows, log);
  } finally {
    await store.close();
  }

  return { type: 'result', mode: 'seed', seeded: true, peakRssBytes: peakRssBytes() };
}

async function runNative(): Promise<ExportRunResult> {
  const store = await openStore();
  const chdb = await import('chdb');
  const { sql, params } = exportQuery(store, 'articles', { from }, exportMaxRows);
  let bytes = 0;
  let rows = 0;

  const started = performance.now();
  const session = new chdb.Session(join(seedDir, 'clickhouse'));
  try {
    for await (const chunk of session.queryStreamBind(sql, params, { format: 'CSVWithNames' })) {
      bytes += chunk.raw().byteLength;
      rows += chunk.numRows;
    }
  } finally {
    session.close();
  }
  const elapsedMs = performance.now() - started;

  await store.close();

  return { type: 'result', mode: 'native', elapsedMs, bytes, rows, peakRssBytes: peakRssBytes() };
}

async function runApi(): Promise<ExportRunResult> {
  const store = await openStore();
  // Only replays of dead letters publish; an export never touches the bus.
  const bus = new MemoryBus({ partitions: 1, queueMaxRecords: 100 });
  await bus.start();
  await bus.ensureTopics(allTopics());
  const api = await createApi({
    store,
    bus,
    lifecycleHealth: async () => ({}),
    log,
    apiKeys: [`bench:${benchApiSecret}:read+export`],
    dataDir: seedDir,
    exportMaxRows,
  });
  const server: Server = await api.listen(0, '127.0.0.1');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  await report({ type: 'ready', url: `http://127.0.0.1:${port}` });
  await received();
  const result: ExportRunResult = { type: 'result', mode: 'api', peakRssBytes: peakRssBytes() };

  await new Promise((resolve) => server.close(resolve));
  await bus.stop();
  await store.close();

  return result;
}

const runs: Record<string, () => Promise<ExportRunResult>> = {
  seed: runSeed,
  native: runNative,
  api: runApi,
};

try {
  const run = runs[mode ?? ''];
  if (!run) throw new Error(`expected a mode (seed, native or api), got '${mode}'`);
  if (!seedDir) throw new Error('expected --seed-dir');
  await report(await run());
} catch (err) {
  await report({
    type: 'error',
    message: err instanceof Error ? (err.stack ?? err.message) : String(err),
  });
  process.exitCode = 1;
}
