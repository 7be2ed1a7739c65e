/**
 * CSV export throughput and memory: one million articles exported through the API
 * (`GET /v1/articles/export?format=csv`) against chDB streaming the same SQL natively.
 * Targets: the API reaches at least 0.7 times the native rate, and its peak RSS for the
 * million rows stays within 100 MB of its peak for 100,000 rows.
 *
 * Every measurement runs in a child process of its own (bench/lib/export-run.ts), so each
 * peak RSS belongs to one run; the API's client is this process, which only counts bytes.
 * The store is seeded once into a folder that later runs reuse (`--reseed` to rebuild it).
 *
 * Usage: node --expose-gc bench/export.bench.ts [--rows 1000000] [--small-rows 100000]
 *   [--runs 2] [--seed-dir DIR] [--reseed]
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { resultOf, startChild, type Child } from './lib/child.ts';
import { download } from './lib/download.ts';
import { benchApiSecret, fromForLast, removeSeed } from './lib/export-seed.ts';
import type { ExportRunResult } from './lib/export-run.ts';
import { boolOption, flag, intOption } from './lib/options.ts';
import { heading, machine, mb, mbPerSecond, printTargets, rate, row } from './lib/report.ts';

const targetRatio = 0.7;
const targetRssGrowthBytes = 100 * 1024 * 1024;

const rows = intOption('rows', 1_000_000);
const smallRows = intOption('small-rows', 100_000);
const runs = intOption('runs', 2);
const seedDir = flag('seed-dir') ?? join(tmpdir(), `aletheia-bench-export-${rows}`);
const script = new URL('./lib/export-run.ts', import.meta.url);

interface Measurement {
  rows: number;
  bytes: number;
  elapsedMs: number;
  peakRssBytes: number;
}

function child(mode: string, extra: string[] = []): Child {
  return startChild(script, [mode, '--seed-dir', seedDir, '--rows', String(rows), ...extra]);
}

const filterArgs = (count: number): string[] =>
  count < rows ? ['--from', fromForLast(count, rows)] : [];

async function native(count: number): Promise<Measurement> {
  const result = await resultOf<ExportRunResult>(child('native', filterArgs(count)));
  const measured = {
    rows: result.rows!,
    bytes: result.bytes!,
    elapsedMs: result.elapsedMs!,
    peakRssBytes: result.peakRssBytes,
  };
  print(`native ${count.toLocaleString('en-US')}`, measured);
  expectRows(measured.rows, count, 'native');

  return measured;
}

async function api(count: number): Promise<Measurement> {
  const server = child('api');
  const ready = await server.next();
  if (ready.type !== 'ready') throw new Error(`API child: ${JSON.stringify(ready)}`);

  const query = new URLSearchParams({ format: 'csv' });
  if (count < rows) query.set('from', fromForLast(count, rows));
  const got = await download(`${ready.url}/v1/articles/export?${query}`, benchApiSecret);
  server.send('stop');
  const result = await resultOf<ExportRunResult>(server);
  if (got.status !== 200) throw new Error(`export answered ${got.status}`);

  // One line per row (the seed writes no line breaks in fields) plus the header.
  const measured = {
    rows: got.lines - 1,
    bytes: got.bytes,
    elapsedMs: got.elapsedMs,
    peakRssBytes: result.peakRssBytes,
  };
  print(`api ${count.toLocaleString('en-US')}`, measured);
  expectRows(measured.rows, count, 'API');

  return measured;
}

function print(name: string, m: Measurement): void {
  const seconds = `${(m.elapsedMs / 1000).toFixed(2)} s`;
  const rowRate = rate(m.rows, m.elapsedMs, 'rows');
  row(name, seconds, mbPerSecond(m.bytes, m.elapsedMs), rowRate, `peak RSS ${mb(m.peakRssBytes)}`);
}

function expectRows(got: number, wanted: number, what: string): void {
  if (got !== wanted) throw new Error(`${what} export gave ${got} rows, expected ${wanted}`);
}

const best = (list: Measurement[]): Measurement =>
  list.reduce((a, b) => (b.elapsedMs < a.elapsedMs ? b : a));
/** Memory is compared on the lowest peak of each size, the least disturbed run. */
const lowestPeak = (list: Measurement[]): number => Math.min(...list.map((m) => m.peakRssBytes));

async function main(): Promise<void> {
  console.log(`export benchmark: ${rows.toLocaleString('en-US')} articles, ${machine()}`);
  if (boolOption('reseed')) await removeSeed(seedDir);

  const seedStarted = performance.now();
  const seeded = await resultOf<ExportRunResult>(child('seed'));
  const seedSeconds = ((performance.now() - seedStarted) / 1000).toFixed(1);
  console.log(`store in ${seedDir} (${seeded.seeded ? `seeded in ${seedSeconds} s` : 'reused'})`);

  heading('runs');
  const results = { native: [] as Measurement[], api: [] as Measurement[] };
  const small = { native: [] as Measurement[], api: [] as Measurement[] };
  for (let i = 0; i < runs; i += 1) {
    results.native.push(await native(rows));
    results.api.push(await api(rows));
    small.native.push(await native(smallRows));
    small.api.push(await api(smallRows));
  }

  const nativeBest = best(results.native);
  const apiBest = best(results.api);
  const ratio = nativeBest.elapsedMs / apiBest.elapsedMs;
  const apiGrowth = lowestPeak(results.api) - lowestPeak(small.api);
  const nativeGrowth = lowestPeak(results.native) - lowestPeak(small.native);

  heading(`results (best of ${runs})`);
  row(`native ${rows.toLocaleString('en-US')} rows`, rate(rows, nativeBest.elapsedMs, 'rows'));
  row(`api ${rows.toLocaleString('en-US')} rows`, rate(rows, apiBest.elapsedMs, 'rows'));
  row('ratio api / native', ratio.toFixed(3));
  row('bytes native', mb(nativeBest.bytes));
  row('bytes api', mb(apiBest.bytes));
  row(`api peak RSS ${smallRows.toLocaleString('en-US')} rows`, mb(lowestPeak(small.api)));
  row(`api peak RSS ${rows.toLocaleString('en-US')} rows`, mb(lowestPeak(results.api)));
  row('api peak RSS difference', mb(apiGrowth));
  row('native peak RSS difference', mb(nativeGrowth), '(same two sizes, for comparison)');

  printTargets([
    {
      name: 'API CSV throughput vs native stream',
      met: ratio >= targetRatio,
      measured: `${ratio.toFixed(3)} x`,
      wanted: `>= ${targetRatio} x`,
    },
    {
      name: `API peak RSS growth from ${smallRows} to ${rows} rows`,
      met: apiGrowth <= targetRssGrowthBytes,
      measured: mb(apiGrowth),
      wanted: `<= ${mb(targetRssGrowthBytes)}`,
    },
  ]);
}

await main();
