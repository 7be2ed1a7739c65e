import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';

import { parseApiKeys } from '../../api/auth.ts';
import { startMetricsServer } from '../../api/metrics-server.ts';
import { silentLogger } from '../../runtime/log.ts';
import { recordsIn } from '../../runtime/metrics.ts';

const scraperKey = 'prometheus-scraper-0123456789';
const readerKey = 'analyst-reader-0123456789abc';
let server: Server;
let base: string;

before(async () => {
  server = await startMetricsServer({
    port: 0,
    host: '127.0.0.1',
    keys: parseApiKeys([`scraper:${scraperKey}:metrics`, `analyst:${readerKey}:read`]),
    log: silentLogger(),
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise((resolve) => server.close(resolve)));

const scrape = (path: string, key?: string) =>
  fetch(`${base}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });

test('serves the process metrics to a key with the metrics scope', async () => {
  recordsIn.inc({ stage: 'process' }, 3);
  const response = await scrape('/metrics', scraperKey);

  assert.equal(response.status, 200);
  assert.match(await response.text(), /^aletheia_records_in_total\{stage="process"\} \d+/m);
});

test('refuses scrapes without a key or without the scope, and other paths', async () => {
  const anonymous = await scrape('/metrics');
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer realm="aletheia"');
  assert.equal(((await anonymous.json()) as { code: string }).code, 'API_UNAUTHENTICATED');

  assert.equal((await scrape('/metrics', readerKey)).status, 403);
  assert.equal((await scrape('/v1/articles', scraperKey)).status, 404);
});
