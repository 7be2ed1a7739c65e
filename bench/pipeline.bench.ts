/**
 * Pipeline throughput: records per second from parsed feed items, published on the
 * in-process bus, through normalisation, entity linking and the ClickHouse sink into an
 * embedded store, against inserting the same already-normalised rows directly. Target: the
 * pipeline reaches at least half the direct insert rate.
 *
 * Each measurement runs in a child process of its own (bench/lib/pipeline-run.ts) with a
 * fresh store; baseline and pipeline runs alternate, and each side's best run counts, so a
 * burst of noise on the machine does not decide the ratio.
 *
 * Usage: node --expose-gc bench/pipeline.bench.ts [--rows 200000] [--runs 1]
 *   Sizes of the wiring, defaults as the application's: [--partitions 4] [--process-batch 1000]
 *   [--batch-max-rows 10000] [--linger-ms 200]; publishing: [--publish-batch 1000]
 *   [--publishers 16]; [--profile-dir DIR] profiles the timed part of every run, writes the
 *   profiles into DIR and prints where the main thread spent its time; [--log-level warn].
 *   Every flag may also come from the environment: BENCH_ROWS=20000.
 */
import { resultOf, startChild } from './lib/child.ts';
import { intOption } from './lib/options.ts';
import type { PipelineRunResult } from './lib/pipeline-run.ts';
import { heading, machine, mb, printTargets, rate, row } from './lib/report.ts';

const targetRatio = 0.5;
const rows = intOption('rows', 200_000);
const runs = intOption('runs', 1);
const passThrough = process.argv.slice(2);

async function run(mode: 'pipeline' | 'baseline'): Promise<PipelineRunResult> {
  const script = new URL('./lib/pipeline-run.ts', import.meta.url);
  const result = await resultOf<PipelineRunResult>(startChild(script, [mode, ...passThrough]));
  const perSecond = rate(result.records, result.elapsedMs, 'records');
  const cpu = `${(result.cpuMs / result.elapsedMs).toFixed(2)} cores busy`;
  row(`${mode}`, `${(result.elapsedMs / 1000).toFixed(2)} s`, perSecond, cpu);
  if (result.articleRows !== rows) {
    throw new Error(`${mode} stored ${result.articleRows} articles, expected ${rows}`);
  }

  return result;
}

const best = (results: PipelineRunResult[]): PipelineRunResult =>
  results.reduce((a, b) => (b.elapsedMs < a.elapsedMs ? b : a));

async function main(): Promise<void> {
  console.log(`pipeline benchmark: ${rows.toLocaleString('en-US')} feed items, ${machine()}`);

  heading('runs');
  const baselines: PipelineRunResult[] = [];
  const pipelines: PipelineRunResult[] = [];
  for (let i = 0; i < runs; i += 1) {
    baselines.push(await run('baseline'));
    pipelines.push(await run('pipeline'));
  }

  const baseline = best(baselines);
  const pipeline = best(pipelines);
  const ratio = baseline.elapsedMs / pipeline.elapsedMs;

  heading(`results (best of ${runs})`);
  row(
    'rows per record (articles + mentions)',
    ((pipeline.articleRows + pipeline.mentionRows) / rows).toFixed(2),
  );
  row('baseline: direct insert', rate(rows, baseline.elapsedMs, 'records'));
  row('pipeline: bus -> process -> sink', rate(rows, pipeline.elapsedMs, 'records'));
  row('ratio pipeline / baseline', ratio.toFixed(3));
  row(
    'peak RSS baseline',
    mb(baseline.peakRssBytes),
    `(${mb(baseline.rssBeforeBytes)} before timing)`,
  );
  row(
    'peak RSS pipeline',
    mb(pipeline.peakRssBytes),
    `(${mb(pipeline.rssBeforeBytes)} before timing)`,
  );
  if (pipeline.mentionRows !== baseline.mentionRows) {
    const counts = `pipeline ${pipeline.mentionRows}, baseline ${baseline.mentionRows}`;
    console.log(`  note: mention rows differ: ${counts}`);
  }

  printTargets([
    {
      name: 'pipeline throughput vs direct insert',
      met: ratio >= targetRatio,
      measured: `${ratio.toFixed(3)} x`,
      wanted: `>= ${targetRatio} x`,
    },
  ]);
}

await main();
