/**
 * One run of the pipeline benchmark, in a child process of its own with a fresh embedded
 * store in a temporary folder. Argument 1 is the mode:
 *
 * - `pipeline`: raw feed items published on the in-process bus go through the processing
 *   stage (normalise, detect language, link, dedupe) and the ClickHouse sink; timed from the
 *   first publish until every publish resolved, which on the in-process bus means the sink
 *   stored the records.
 * - `baseline`: the same items normalised and linked beforehand (untimed), mapped to rows
 *   with `canonicalRows`, and inserted directly in batches of the sink's batch size; timed
 *   over the inserts only.
 *
 * Sends one `result` message: records, rows stored, elapsed time, CPU time and peak RSS.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { pino } from 'pino';

import { ProcessStage } from '../../processors/process.ts';
import { detectLanguage } from '../../processors/detect-language.ts';
import { EntityIndex } from '../../processors/link-entities.ts';
import { normalise } from '../../processors/normalise/index.ts';
import type { OutgoingRecord } from '../../runtime/bus.ts';
import { CheckpointStore } from '../../runtime/checkpoint.ts';
import { createLogger } from '../../runtime/log.ts';
import { MemoryBus } from '../../runtime/memory-bus.ts';
import { codecs } from '../../schemas/index.ts';
import { allTopics, topics } from '../../schemas/topics.ts';
import type { NewsArticle, WikidataEntity } from '../../schemas/types.ts';
import { createAnalyticsStore, type AnalyticsStore } from '../../sinks/clickhouse/client.ts';
import { migrate } from '../../sinks/clickhouse/migrate.ts';
import { canonicalRows, type Row, type Table, type TableRow } from '../../sinks/clickhouse/rows.ts';
import { ClickHouseSink } from '../../sinks/clickhouse/sink.ts';
import { peakRssBytes, report } from './child.ts';
import { generateFeedItems, trackedEntityRecords, trackedQids } from './feed-items.ts';
import { flag, intOption, stringOption } from './options.ts';
import { profiled } from './profile.ts';

export type PipelineRunResult = {
  type: 'result';
  mode: 'pipeline' | 'baseline';
  records: number;
  articleRows: number;
  mentionRows: number;
  elapsedMs: number;
  cpuMs: number;
  rssBeforeBytes: number;
  peakRssBytes: number;
};

// Warnings and errors only, on stderr, so a failing insert or a dead letter shows.
const log = createLogger(stringOption('log-level', 'warn'), pino.destination(2));
const mode = process.argv[2] === 'baseline' ? 'baseline' : 'pipeline';
const records = intOption('rows', 200_000);
const batchMaxRows = intOption('batch-max-rows', 10_000);
const lingerMs = intOption('linger-ms', 200);
const partitions = intOption('partitions', 4);
const processBatch = intOption('process-batch', 1000);
const publishBatch = intOption('publish-batch', 1000);
const publishers = intOption('publishers', 16);

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), `aletheia-bench-${mode}-`));
  const store = await createAnalyticsStore({
    user: 'default',
    password: '',
    database: 'aletheia',
    dataDir,
    log,
  });

  try {
    const timed =
      mode === 'pipeline' ? await runPipeline(store, dataDir) : await runBaseline(store);
    const counts = await countRows(store);
    const result: PipelineRunResult = {
      type: 'result',
      mode,
      records,
      ...counts,
      ...timed,
      peakRssBytes: peakRssBytes(),
    };
    await report(result);
  } finally {
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

interface Timed {
  elapsedMs: number;
  cpuMs: number;
  rssBeforeBytes: number;
}

async function timeIt(work: () => Promise<void>): Promise<Timed> {
  gc();
  const rssBeforeBytes = process.memoryUsage.rss();
  const cpu = process.cpuUsage();
  // Holds the event loop open as a server would: the in-process bus retries a failed batch
  // on an unreferenced timer, which alone would let this process exit halfway.
  const keepAlive = setInterval(() => {}, 1000);
  const started = performance.now();
  try {
    await profiled(flag('profile-dir'), `pipeline-${mode}`, work);
  } finally {
    clearInterval(keepAlive);
  }
  const elapsedMs = performance.now() - started;
  const used = process.cpuUsage(cpu);

  return { elapsedMs, cpuMs: (used.user + used.system) / 1000, rssBeforeBytes };
}

async function runPipeline(store: AnalyticsStore, dataDir: string): Promise<Timed> {
  const bus = new MemoryBus({ partitions, queueMaxRecords: 10_000 });
  await bus.start();
  await bus.ensureTopics(allTopics());
  const sink = new ClickHouseSink({ bus, store, log, options: { batchMaxRows, lingerMs } });
  const stage = new ProcessStage({
    bus,
    checkpoints: new CheckpointStore(dataDir),
    log,
    options: { trackedEntities: trackedQids, linkWaitMs: 30_000, maxBatchRecords: processBatch },
  });
  await sink.start();
  await stage.start();

  // Entities first: once their publish resolved, the stage's index knows every name. One at
  // a time, as the Wikidata connector refreshes them: two index updates at once race on the
  // checkpoint's temporary file (ENOENT on rename), and the batch is delivered again later.
  for (const entity of encodeAll(trackedEntityRecords())) {
    await bus.publish(topics.raw('wikidata'), [entity]);
  }
  const health = await stage.health();
  if (health.detail) throw new Error(`processing stage not ready: ${health.detail}`);

  const input = packRecords(generateFeedItems(records));
  const raw = topics.raw('rss');
  let nextChunk = 0;
  const publisher = async (): Promise<void> => {
    while (nextChunk < records) {
      const start = nextChunk;
      nextChunk = Math.min(records, nextChunk + publishBatch);
      await bus.publish(raw, input.slice(start, nextChunk));
    }
  };

  try {
    return await timeIt(async () => {
      await Promise.all(Array.from({ length: publishers }, publisher));
    });
  } finally {
    await stage.stop();
    await sink.stop();
    await bus.stop();
  }
}

/**
 * Encoded raw records in one buffer, cut into records only when published: hundreds of
 * thousands of small buffers held for the whole run would make every major collection of
 * the pipeline mark them, a cost the pipeline does not have when items arrive feed by feed.
 */
function packRecords(raws: ReturnType<typeof generateFeedItems>): {
  slice(start: number, end: number): OutgoingRecord[];
} {
  const keys = raws.map((raw) => raw.id);
  const encoded = raws.map((raw) => codecs.raw.encode(raw));
  const offsets = new Uint32Array(encoded.length + 1);
  encoded.forEach((bytes, i) => (offsets[i + 1] = offsets[i]! + bytes.length));
  const packed = Buffer.concat(encoded);

  return {
    slice: (start, end) =>
      keys.slice(start, end).map((key, i) => ({
        key,
        value: packed.subarray(offsets[start + i], offsets[start + i + 1]),
      })),
  };
}

function encodeAll(raws: ReturnType<typeof generateFeedItems>): OutgoingRecord[] {
  return raws.map((raw) => ({ key: raw.id, value: codecs.raw.encode(raw) }));
}

/** What the stage does to articles, done beforehand so only the inserts are timed. */
function canonicalTableRows(): TableRow[] {
  const index = new EntityIndex(trackedQids);
  for (const raw of trackedEntityRecords()) {
    index.update(normalise(raw).payload as WikidataEntity);
  }

  return generateFeedItems(records).flatMap((raw) => {
    const record = normalise(raw);
    const article = record.payload as NewsArticle;
    const texts = [article.title, article.summary, article.content];
    article.language ??= detectLanguage(texts.filter(Boolean).join('\n'));
    article.mentions = index.link(texts);

    return canonicalRows(record);
  });
}

async function runBaseline(store: AnalyticsStore): Promise<Timed> {
  await migrate(store, log);
  const rows = canonicalTableRows();

  return timeIt(async () => {
    for (let start = 0; start < rows.length; start += batchMaxRows) {
      const byTable = new Map<Table, Row[]>();
      for (const { table, row } of rows.slice(start, start + batchMaxRows)) {
        const list = byTable.get(table);
        if (list) list.push(row);
        else byTable.set(table, [row]);
      }
      for (const [table, values] of byTable) {
        await store.client.insert({
          table: `${store.database}.${table}`,
          format: 'JSONEachRow',
          values,
        });
      }
    }
  });
}

async function countRows(
  store: AnalyticsStore,
): Promise<{ articleRows: number; mentionRows: number }> {
  const result = await store.client.query({
    query: `SELECT
      (SELECT count() FROM ${store.database}.articles FINAL) AS articleRows,
      (SELECT count() FROM ${store.database}.entity_mentions FINAL) AS mentionRows`,
    format: 'JSONEachRow',
  });
  const [counts] = await result.json<{ articleRows: string; mentionRows: string }>();

  return { articleRows: Number(counts?.articleRows), mentionRows: Number(counts?.mentionRows) };
}

main().catch(async (err: unknown) => {
  await report({
    type: 'error',
    message: err instanceof Error ? (err.stack ?? err.message) : String(err),
  });
  process.exitCode = 1;
});
