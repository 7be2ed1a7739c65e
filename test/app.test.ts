/**
 * The whole system in one process, as `npm start` runs it: sample feeds and Wikidata served
 * from a local HTTP server, the real connectors, processors, embedded store and API. A
 * restart on the same data directory must not duplicate anything.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import { startApp, type App } from '../app.ts';
import { startSampleSources, type SampleSources } from '../demo/server.ts';
import { loadConfig, type Config } from '../runtime/config.ts';
import { silentLogger } from '../runtime/log.ts';

const apiKey = 'e2e-reader-0123456789abcdef';
const run = promisify(execFile);

/** A news site whose feed is broken, beside the good ones. */
async function startBrokenSite(): Promise<{ server: Server; url: string; host: string }> {
  const server = createServer((_request, response) => {
    response
      .writeHead(200, { 'content-type': 'application/rss+xml' })
      .end(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Quebrado</title><item><title>Sem fim',
      );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  return { server, url: `http://${host}/rss`, host };
}

async function get<T>(app: App, path: string): Promise<T> {
  const response = await fetch(`${app.url!}${path}`, {
    headers: { authorization: `Bearer ${apiKey}` },
  });
  assert.equal(response.status, 200, `GET ${path}: ${await response.clone().text()}`);

  return (await response.json()) as T;
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

interface Page<T> {
  data: T[];
  nextCursor: string | null;
}
interface Article {
  id: string;
  title: string;
  mentions: { qid: string; matchedText: string; count: number }[];
}

describe('the pipeline, end to end on embedded defaults', () => {
  let dataDir: string;
  let samples: SampleSources;
  let broken: Awaited<ReturnType<typeof startBrokenSite>>;
  let config: Config;
  let app: App;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'aletheia-e2e-'));
    samples = await startSampleSources();
    broken = await startBrokenSite();
    config = loadConfig({
      PORT: '0',
      ALETHEIA_DATA_DIR: dataDir,
      ALETHEIA_FEEDS: [...samples.feedUrls, broken.url].join(','),
      ALETHEIA_WIKIDATA_API_URL: samples.wikidataApiUrl,
      ALETHEIA_TRACKED_ENTITIES: samples.trackedEntities.join(','),
      ALETHEIA_ALLOWED_HOSTS: `${samples.host},${broken.host}`,
      ALETHEIA_API_KEYS: `e2e:${apiKey}:read+export+admin`,
      ALETHEIA_SINK_LINGER_MS: '20',
    });
    app = await startApp(config, silentLogger());
  });

  after(async () => {
    await app.stop();
    await samples.close();
    await new Promise((resolve) => broken.server.close(resolve));
    await rm(dataDir, { recursive: true, force: true });
  });

  it('brings every sample article into the API with its entity mentions', async () => {
    const page = await waitFor('eight articles', async () => {
      const result = await get<Page<Article>>(app, '/v1/articles?limit=50');
      return result.data.length === 8 ? result : undefined;
    });

    const health = page.data.find((article) => article.title.startsWith('Lula sanciona'));
    assert.deepEqual(health?.mentions, [{ qid: 'Q37181', matchedText: 'Lula', count: 3 }]);
    const unrelated = page.data.find((article) => article.title.startsWith('Central bank'));
    assert.deepEqual(unrelated?.mentions, []);

    const mentions = await get<Page<{ articleId: string; qid: string }>>(
      app,
      '/v1/mentions?entity=Q10304982',
    );
    assert.equal(mentions.data.length, 3);
    assert.ok(mentions.data.every((mention) => mention.qid === 'Q10304982'));
  });

  it('serves the entities fetched from Wikidata', async () => {
    const entity = await get<{ qid: string; label: string; aliases: string[] }>(
      app,
      '/v1/entities/Q37181',
    );

    assert.equal(entity.label, 'Luiz Inácio Lula da Silva');
    assert.ok(entity.aliases.includes('Lula'));
  });

  it('dead-letters the broken feed and loses nothing else', async () => {
    const letters = await waitFor('a dead letter', async () => {
      const result = await app.store!.client.query({
        query: `SELECT stage, code, source_url FROM ${config.clickhouseDatabase}.dead_letters FINAL`,
        format: 'JSONEachRow',
      });
      const rows = await result.json<{ stage: string; code: string; source_url: string }>();
      return rows.length > 0 ? rows : undefined;
    });

    assert.deepEqual(letters, [{ stage: 'rss', code: 'FEED_MALFORMED', source_url: broken.url }]);
  });

  it('lists the dead letter with the dead-letters command', async () => {
    const keyFile = join(dataDir, 'operator-key');
    await writeFile(keyFile, apiKey, { mode: 0o600 });
    const { stdout } = await run(process.execPath, [
      'scripts/dead-letters.ts',
      'list',
      '--url',
      app.url!,
      '--key-file',
      keyFile,
    ]);

    assert.match(stdout, /^[0-9a-f]{32} {2}\S+ {2}rss {2}FEED_MALFORMED {2}- {2}\S/m);
  });

  it('exports the same articles as CSV', async () => {
    const response = await fetch(`${app.url!}/v1/articles/export?format=csv`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    const lines = (await response.text()).trim().split('\n');

    assert.equal(response.headers.get('content-type')?.split(';')[0], 'text/csv');
    assert.equal(lines.length, 1 + 8);
  });

  it('produces no duplicates after a restart on the same data directory', async () => {
    await app.stop();
    app = await startApp(config, silentLogger());

    // Give the connectors time for a full poll of every source after the restart.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const page = await get<Page<Article>>(app, '/v1/articles?limit=50');
    assert.equal(page.data.length, 8);

    const result = await app.store!.client.query({
      query: `SELECT count() AS rows FROM ${config.clickhouseDatabase}.articles`,
      format: 'JSONEachRow',
    });
    const [row] = await result.json<{ rows: number | string }>();
    assert.equal(Number(row?.rows), 8);
  });
});
