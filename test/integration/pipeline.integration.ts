/**
 * The pipeline scaled out on the local stack: ingest, two processors and a sink+API process,
 * each a `node main.ts` of its own, talking through Kafka and the schema registry. A
 * processor killed with SIGKILL mid-stream and a broker restarted mid-stream must lose no
 * record, and the idempotent sink must absorb whatever was delivered twice.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import { startSampleSources, type SampleSources } from '../../demo/server.ts';
import { KafkaBus } from '../../runtime/kafka/bus.ts';
import { topics } from '../../schemas/topics.ts';
import { Cluster, exportRows, GrowingNewsSite, type StageProcess } from './cluster.ts';
import { stackEnv, testBusOptions } from './kafka-stack.ts';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;
const apiKey = 'integration-operator-key-0123456789';
const runId = randomUUID().slice(0, 8);

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: last });
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describe('the pipeline on Kafka, one process per stage', () => {
  const env = stackEnv();
  const site = new GrowingNewsSite(6);
  let samples: SampleSources;
  let cluster: Cluster;
  let api: string;
  let processors: StageProcess[];

  const articles = () => exportRows(api, apiKey, `/v1/articles/export?format=ndjson&q=${runId}`);

  before(async () => {
    await site.start();
    samples = await startSampleSources();
    site.add(400, runId);

    cluster = new Cluster({
      ALETHEIA_BUS: 'kafka',
      ALETHEIA_KAFKA_BROKERS: env.brokers.join(','),
      ALETHEIA_SCHEMA_REGISTRY_URL: env.registryUrl,
      ALETHEIA_KAFKA_SESSION_TIMEOUT_MS: '6000',
      ALETHEIA_API_KEYS: `operator:${apiKey}:read+export+admin+metrics`,
      ALETHEIA_FEEDS: site.feedUrls().join(','),
      ALETHEIA_FEED_POLL_INTERVAL_MS: '1000',
      ALETHEIA_WIKIDATA_API_URL: samples.wikidataApiUrl,
      ALETHEIA_TRACKED_ENTITIES: samples.trackedEntities.join(','),
      ALETHEIA_ALLOWED_HOSTS: `${samples.host},${new URL(site.origin).host}`,
      ALETHEIA_SINK_LINGER_MS: '50',
    });

    const sink = await cluster.start('sink-api', 'sink,api');
    api = (await sink.running)!;
    processors = [
      await cluster.start('process-1', 'process'),
      await cluster.start('process-2', 'process'),
    ];
    await Promise.all(processors.map((stage) => stage.running));
    await cluster.start('ingest', 'ingest');
  });

  after(async () => {
    await cluster?.stop();
    await site.close();
    await samples?.close();
  });

  it('loses nothing when a processor is killed mid-stream', async () => {
    // Kill one processor as soon as the first records are stored, while most are in flight.
    await until('the first stored articles', async () =>
      (await articles()).length > 0 ? true : undefined,
    );
    processors[0]!.child.kill('SIGKILL');

    const stored = await until('every article stored', async () => {
      const rows = await articles();
      return rows.length >= site.total ? rows : undefined;
    });
    assert.equal(stored.length, site.total, 'each article exactly once');
    assert.equal(new Set(stored.map((row) => row.id)).size, site.total);

    const linked = stored.filter((row) =>
      (row.mentions as { qid: string }[]).some((m) => m.qid === 'Q37181'),
    );
    assert.equal(linked.length, site.total / 5);
  });

  it('loses nothing when the broker restarts mid-stream', async () => {
    const before = site.total;
    site.add(200, runId);

    const stackHome = process.env.ALETHEIA_STACK_HOME ?? join(root, '.stack');
    const brokerPid = Number((await readFile(join(stackHome, 'run', 'kafka.pid'), 'utf8')).trim());
    await until('some of the new articles', async () =>
      (await articles()).length > before ? true : undefined,
    );
    process.kill(brokerPid, 'SIGTERM');
    await until('the broker to stop', async () => {
      try {
        process.kill(brokerPid, 0);
        return undefined;
      } catch {
        return true;
      }
    });
    await run(join(root, 'scripts/stack'), ['up'], { cwd: root, env: process.env });

    const stored = await until(
      'every article after the restart',
      async () => {
        const rows = await articles();
        return rows.length >= site.total ? rows : undefined;
      },
      120_000,
    );
    assert.equal(stored.length, site.total);
  });

  it('dead-letters a record that fails its schema, with the reason in its headers', async () => {
    const bus = new KafkaBus(testBusOptions(env));
    await bus.start();
    const key = `broken-${runId}`;
    try {
      // Framed with the raw topic's schema id by the bus, but not an Avro RawRecord.
      await bus.publish(topics.raw('rss'), [
        { key, value: Buffer.from([0x02, 0xff, 0xff, 0xff, 0x0f]) },
      ]);
    } finally {
      await bus.stop();
    }

    // kcat, a client independent of ours, reads the dead-letter topic and its headers.
    const line = await until('the dead letter on its topic', async () => {
      const { stdout } = await run('kcat', [
        ...['-C', '-b', env.brokers[0]!, '-t', topics.deadLetter('normalise')],
        ...['-o', 'beginning', '-e', '-q', '-f', '%h\n'],
      ]);
      return stdout
        .split('\n')
        .find((entry) => entry.includes('raw.rss') && entry.includes('RECORD_DECODE_FAILED'));
    });
    assert.match(line, /aletheia-stage=normalise/);
    assert.match(line, /aletheia-error-message=decoding [^,]*RawRecord/);

    // The sink stores it, and the operators' command lists it.
    const keyFile = join(await mkdtemp(join(tmpdir(), 'aletheia-key-')), 'key');
    await writeFile(keyFile, apiKey, { mode: 0o600 });
    const listing = await until('the dead letter in the store', async () => {
      const { stdout } = await run(
        process.execPath,
        [
          'scripts/dead-letters.ts',
          'list',
          '--url',
          api,
          '--key-file',
          keyFile,
          '--stage',
          'normalise',
        ],
        { cwd: root },
      );
      return stdout.includes('RECORD_DECODE_FAILED') ? stdout : undefined;
    });
    assert.match(listing, /normalise {2}RECORD_DECODE_FAILED {2}raw\.rss/);

    const response = await fetch(`${api}/v1/dead-letters?stage=normalise`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    const { data } = (await response.json()) as { data: Record<string, unknown>[] };
    const letter = data.find((entry) => entry.originalKey === key);
    assert.equal(letter?.code, 'RECORD_DECODE_FAILED');
    assert.equal(letter?.originalBytesLength, 5);
  });

  it('stops a stage cleanly on SIGTERM', async () => {
    const survivor = processors[1]!;
    const startedAt = Date.now();
    survivor.child.kill('SIGTERM');

    assert.equal(await survivor.exited, 0);
    assert.ok(Date.now() - startedAt < 20_000, 'within the stop timeout');
    assert.ok(survivor.lines.some((line) => line.msg === 'stopped'));
  });
});
