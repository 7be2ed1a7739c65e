/**
 * The processing stage on Kafka against the bus' own ceiling. On the local broker, with
 * feed items of about 1 KB as the RSS connector publishes them:
 *
 * - ceiling: records published with `KafkaBus.publish` and read back by a `KafkaBus`
 *   subscription, at the same time (what any stage on the bus can get at most);
 * - pipeline: the records published on raw.rss, through a `ProcessStage` on the bus into
 *   canonical.article, read by a consumer group; timed from the first publish until every
 *   canonical article was consumed.
 *
 * Target: pipeline / ceiling >= 0.5. For reference, the same produce and consume with
 * @platformatic/kafka alone shows what the bus layer costs. Each run measures client, ceiling
 * and pipeline in turn; with several runs, each side's best run counts, so a burst of noise
 * on a shared machine does not decide the ratio.
 *
 *   scripts/stack down --purge && scripts/stack up && eval "$(scripts/stack env)"
 *   npm exec -- node bench/kafka-pipeline.bench.ts [--records 50000] [--runs 3]
 *     [--partitions 6] [--publish-batch 500] [--publishers 4] [--process-batch 1000]
 *     [--timeout-s 120] [--log-level warn] [--profile-dir DIR]
 *     [--phases client,ceiling,pipeline]
 *
 * --profile-dir profiles the timed part of every phase and prints where the main thread spent
 * its time. The pipeline phase uses the fixed raw.rss topic and `process` group: it refuses to
 * run while that group has records of an earlier run left (start from a purged stack).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

import { pino } from 'pino';

import { createLogger } from '../runtime/log.ts';
import { compactFeedItems } from './lib/kafka-feed-items.ts';
import type { PhaseResult } from './lib/kafka-measure.ts';
import {
  measureCeiling,
  measureClient,
  measurePipeline,
  type KafkaBenchSettings,
} from './lib/kafka-phases.ts';
import { flag, intOption, stringOption } from './lib/options.ts';
import { heading, machine, printTargets, rate, row } from './lib/report.ts';

const targetRatio = 0.5;
const records = intOption('records', 50_000);
const runs = intOption('runs', 3);
const phaseNames = ['client', 'ceiling', 'pipeline'] as const;
type PhaseName = (typeof phaseNames)[number];
const phases = stringOption('phases', phaseNames.join(',')).split(',');
for (const phase of phases) {
  if (!(phaseNames as readonly string[]).includes(phase)) {
    throw new Error(`--phases: expected some of ${phaseNames.join(',')}, got '${phase}'`);
  }
}
const measures = { client: measureClient, ceiling: measureCeiling, pipeline: measurePipeline };

function describe(result: PhaseResult): string[] {
  const cores = (ms: number | undefined) =>
    ms === undefined ? 'n/a' : (ms / result.elapsedMs).toFixed(2);

  return [
    `${(result.elapsedMs / 1000).toFixed(2)} s`,
    rate(result.records, result.elapsedMs, 'records'),
    `node CPU ${Math.round((result.cpuMs * 1000) / result.records)} us/record`,
    `cores busy: node ${cores(result.cpuMs)}, broker ${cores(result.brokerCpuMs)}`,
    ...(result.duplicates > 0 ? [`${result.duplicates} duplicates`] : []),
  ];
}

const best = (results: PhaseResult[]): PhaseResult =>
  results.reduce((a, b) => (b.elapsedMs < a.elapsedMs ? b : a));

async function main(): Promise<void> {
  const brokers = process.env.ALETHEIA_KAFKA_BROKERS?.split(',');
  const registryUrl = process.env.ALETHEIA_SCHEMA_REGISTRY_URL;
  if (!brokers || !registryUrl) {
    throw new Error(
      'ALETHEIA_KAFKA_BROKERS and ALETHEIA_SCHEMA_REGISTRY_URL are not set: run ' +
        '`scripts/stack up` and `eval "$(scripts/stack env)"` first',
    );
  }

  const dataDir = await mkdtemp(join(tmpdir(), 'aletheia-kafka-bench-'));
  const settings: KafkaBenchSettings = {
    brokers,
    registryUrl,
    partitions: intOption('partitions', 6),
    publishBatch: intOption('publish-batch', 500),
    publishers: intOption('publishers', 4),
    processBatch: intOption('process-batch', 1000),
    runId: randomUUID().slice(0, 8),
    // warnings and errors only, on stderr, so a dead letter or a failing commit shows
    log: createLogger(stringOption('log-level', 'warn'), pino.destination(2)),
    profileDir: flag('profile-dir'),
    timeoutMs: intOption('timeout-s', 120) * 1000,
    dataDir,
  };

  const input = compactFeedItems(records);
  const meanBytes = Math.round(input.totalBytes / input.count);
  console.log(
    `kafka pipeline benchmark: ${records.toLocaleString('en-US')} feed items of ${meanBytes} ` +
      `bytes (Avro), ${settings.partitions} partitions, publishes of ${settings.publishBatch} ` +
      `records, ${settings.publishers} in flight, stage batches of ${settings.processBatch}`,
  );
  console.log(`${machine()}, load average ${loadavg()[0]!.toFixed(1)}, brokers ${brokers}`);

  const measured: Record<PhaseName, PhaseResult[]> = {
    client: [],
    ceiling: [],
    pipeline: [],
  };
  try {
    heading('runs');
    for (let run = 1; run <= runs; run += 1) {
      for (const name of phaseNames.filter((phase) => phases.includes(phase))) {
        const result = await measures[name](settings, input, run);
        measured[name].push(result);
        row(`${run}: ${name}`, ...describe(result));
      }
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }

  heading(`results (best of ${runs}, load average now ${loadavg()[0]!.toFixed(1)})`);
  const [client, ceiling, pipeline] = phaseNames.map((name) =>
    measured[name].length > 0 ? best(measured[name]) : undefined,
  );
  const labels = {
    client: 'client: @platformatic/kafka alone',
    ceiling: 'ceiling: KafkaBus publish+subscribe',
    pipeline: 'pipeline: raw -> process -> canonical',
  };
  phaseNames.forEach((name, i) => {
    const result = [client, ceiling, pipeline][i];
    if (result) row(labels[name], rate(records, result.elapsedMs, 'records'));
  });
  if (client && ceiling) {
    row('bus layer: ceiling / client', (client.elapsedMs / ceiling.elapsedMs).toFixed(2));
  }
  if (!ceiling || !pipeline) return;

  const ratio = ceiling.elapsedMs / pipeline.elapsedMs;
  row('ratio pipeline / ceiling', ratio.toFixed(2));
  printTargets([
    {
      name: 'pipeline throughput on Kafka',
      met: ratio >= targetRatio,
      measured: `${ratio.toFixed(2)} of the bus ceiling`,
      wanted: `>= ${targetRatio}`,
    },
  ]);
}

await main();
