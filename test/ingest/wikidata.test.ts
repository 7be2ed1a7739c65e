import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';

import { userAgent, WikidataConnector, type WikidataOptions } from '../../ingest/wikidata.ts';
import { CheckpointStore } from '../../runtime/checkpoint.ts';
import { AletheiaError, isAletheiaError, type ErrorCode } from '../../runtime/errors.ts';
import { createLogger, silentLogger, type Logger } from '../../runtime/log.ts';
import { MemoryBus } from '../../runtime/memory-bus.ts';
import { normaliseWikidataEntity } from '../../processors/normalise/wikidata.ts';
import { codecs } from '../../schemas/index.ts';
import { canonicalId } from '../../schemas/identity.ts';
import { allTopics, topics } from '../../schemas/topics.ts';
import type { DeadLetter, RawRecord } from '../../schemas/types.ts';
import { entityFixture, FakeWikidata, fixture } from '../fixtures/wikidata/api-server.ts';

const contact = 'https://example.org/aletheia; ops@example.org';

interface Harness {
  bus: MemoryBus;
  raw: RawRecord[];
  dead: DeadLetter[];
  /** While true the subscriber fails every batch of raw records. */
  nack: boolean;
  handled: number;
}

let api: FakeWikidata;
let dataDir: string;
const buses: MemoryBus[] = [];
const connectors: WikidataConnector[] = [];

beforeEach(async () => {
  api = await new FakeWikidata().listen();
  api.add(entityFixture('Q37181'), entityFixture('Q10394575'), entityFixture('Q118200300'));
  dataDir = await mkdtemp(join(tmpdir(), 'aletheia-wikidata-'));
});

afterEach(async () => {
  for (const connector of connectors.splice(0)) await connector.stop();
  for (const bus of buses.splice(0)) await bus.stop();
  await api.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function harness(): Promise<Harness> {
  const bus = new MemoryBus({ partitions: 4, queueMaxRecords: 10_000, drainTimeoutMs: 200 });
  buses.push(bus);
  await bus.start();
  await bus.ensureTopics(allTopics());

  const h: Harness = { bus, raw: [], dead: [], nack: false, handled: 0 };
  const subscription = {
    group: 'test',
    topics: [topics.raw('wikidata'), topics.deadLetter('wikidata')],
    maxBatchRecords: 100,
  };
  await bus.subscribe(subscription, async (batch) => {
    h.handled += 1;
    if (h.nack && batch.some((d) => d.topic === topics.raw('wikidata'))) {
      throw new Error('subscriber not ready');
    }

    for (const delivery of batch) {
      const raw = delivery.topic === topics.raw('wikidata');
      if (raw) h.raw.push(codecs.raw.decode(delivery.value));
      else h.dead.push(codecs.deadLetter.decode(delivery.value));
    }
  });

  return h;
}

function connector(
  bus: MemoryBus,
  qids: string[],
  overrides: Partial<WikidataOptions> = {},
  log: Logger = silentLogger(),
): WikidataConnector {
  const created = new WikidataConnector({
    bus,
    checkpoints: new CheckpointStore(dataDir),
    log,
    options: {
      apiUrl: api.apiUrl,
      qids,
      refreshIntervalMs: 60_000,
      maxlagSeconds: 5,
      userAgent: userAgent(contact, '0.1.0'),
      http: {
        timeoutMs: 2000,
        maxBodyBytes: 4 * 1024 * 1024,
        maxRedirects: 2,
        userAgent: 'overridden',
        allowPrivateNetworks: false,
        allowedHosts: [api.host],
      },
      maxRetries: 2,
      retryBaseMs: 5,
      maxRetryAfterMs: 20,
      ...overrides,
    },
  });
  connectors.push(created);

  return created;
}

async function rejectsWith(work: Promise<unknown>, code: ErrorCode): Promise<AletheiaError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(isAletheiaError(err, code), `expected ${code}, got ${String(err)}`);

  return err;
}

function body(record: RawRecord): Record<string, any> {
  return JSON.parse(record.body.toString('utf8'));
}

async function until(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('WikidataConnector requests', () => {
  it('asks for 120 entities in 3 batches with the query and User-Agent it needs', async () => {
    const qids = Array.from({ length: 120 }, (_, i) => `Q${1000 + i}`);
    api.add(...qids.map((id, i) => ({ type: 'item', id, lastrevid: 500 + i, labels: {} })));
    const h = await harness();

    const result = await connector(h.bus, qids).refreshOnce();

    assert.deepEqual(result, {
      requested: 120,
      batches: 3,
      published: 120,
      unchanged: 0,
      deadLettered: 0,
    });
    const batches = api.requestedIds();
    assert.deepEqual(
      batches.map((ids) => ids.length),
      [50, 50, 20],
    );
    assert.deepEqual(batches.flat(), qids);
    for (const { url, userAgent: agent } of api.requests) {
      assert.equal(url.pathname, '/w/api.php');
      assert.equal(url.searchParams.get('action'), 'wbgetentities');
      assert.equal(
        url.searchParams.get('props'),
        'info|labels|descriptions|aliases|claims|sitelinks/urls',
      );
      assert.equal(url.searchParams.get('languages'), 'pt-br|pt|en');
      assert.equal(url.searchParams.get('maxlag'), '5');
      assert.equal(url.searchParams.get('format'), 'json');
      assert.equal(
        agent,
        `AletheiaIntegration/0.1.0 (${contact}) Node.js/${process.versions.node}`,
      );
    }
    assert.equal(h.raw.length, 120);
    assert.deepEqual(new Set(h.raw.map((r) => r.nativeId)), new Set(qids));
  });

  it('refuses a malformed QID naming it', () => {
    assert.throws(
      () => connector(new MemoryBus({ partitions: 1, queueMaxRecords: 1 }), ['Q42', 'abc']),
      (err: unknown) =>
        isAletheiaError(err, 'CONFIG_INVALID') &&
        err.message === "expected a QID like Q42, got 'abc'",
    );
  });
});

describe('WikidataConnector records', () => {
  it('publishes each entity reduced to the working languages and the kept statements', async () => {
    const h = await harness();

    await connector(h.bus, ['Q37181', 'Q118200300']).refreshOnce();

    const lula = h.raw.find((r) => r.nativeId === 'Q37181');
    assert.ok(lula);
    assert.equal(lula.id, canonicalId('wikidata', 'Q37181'));
    assert.equal(lula.source, 'wikidata');
    assert.equal(lula.sourceUrl, `${api.origin}/wiki/Q37181`);
    assert.equal(lula.contentType, 'application/vnd.wikidata.entity+json');
    assert.deepEqual(lula.context, {});
    assert.ok(Math.abs(lula.fetchedAt - Date.now()) < 5000);

    const entity = body(lula);
    assert.equal(entity.id, 'Q37181');
    assert.equal(entity.lastrevid, 2312998874);
    assert.equal(entity.modified, '2025-03-14T18:22:05Z');
    assert.deepEqual(Object.keys(entity.labels).sort(), ['en', 'pt', 'pt-br']);
    assert.deepEqual(Object.keys(entity.aliases).sort(), ['en', 'pt', 'pt-br']);
    assert.deepEqual(Object.keys(entity.claims).sort(), [
      'P12361',
      'P18',
      'P2002',
      'P2003',
      'P2013',
      'P2397',
      'P31',
    ]);
    assert.equal(entity.claims.P2002[0].qualifiers, undefined);
    assert.deepEqual(Object.keys(entity.sitelinks).sort(), [
      'commonswiki',
      'enwiki',
      'eswiki',
      'ptwiki',
    ]);
    assert.equal(
      entity.sitelinks.ptwiki.url,
      'https://pt.wikipedia.org/wiki/Luiz_In%C3%A1cio_Lula_da_Silva',
    );

    // What the connector keeps is enough for the normaliser to read the same entity.
    const fromReduced = normaliseWikidataEntity(lula).payload;
    const fromFull = normaliseWikidataEntity({
      ...lula,
      body: Buffer.from(JSON.stringify(entityFixture('Q37181'))),
    }).payload;
    assert.deepEqual(fromReduced, fromFull);

    const observatory = h.raw.find((r) => r.nativeId === 'Q118200300');
    assert.ok(observatory);
    assert.equal(
      normaliseWikidataEntity(observatory).payload.label,
      'Electoral Transparency Observatory',
    );
  });

  it('keeps a description, an alias language and a sitelink a later response lacks', async () => {
    const h = await harness();
    const wikidata = connector(h.bus, ['Q37181']);
    await wikidata.refreshOnce();

    const edited = entityFixture('Q37181');
    edited.lastrevid = 2313000001;
    edited.modified = '2025-03-20T10:00:00Z';
    edited.labels['pt-br'].value = 'Lula';
    delete edited.descriptions['pt-br'];
    delete edited.aliases.en;
    delete edited.sitelinks.enwiki;
    delete edited.claims.P2002;
    api.add(edited);
    const result = await wikidata.refreshOnce();

    assert.equal(result.published, 1);
    assert.equal(h.raw.length, 2);
    const entity = body(h.raw[1]!);
    assert.equal(entity.lastrevid, 2313000001);
    assert.equal(entity.labels['pt-br'].value, 'Lula');
    assert.equal(entity.descriptions['pt-br'].value, '39.º presidente do Brasil');
    assert.deepEqual(
      entity.aliases.en.map((a: { value: string }) => a.value),
      ['LULA', 'Luiz Inacio Lula da Silva'],
    );
    assert.equal(entity.sitelinks.enwiki.title, 'Luiz Inácio Lula da Silva');
    assert.equal(entity.claims.P2002[0].mainsnak.datavalue.value, 'LulaOficial');

    const canonical = normaliseWikidataEntity(h.raw[1]!).payload;
    assert.equal(canonical.label, 'Lula');
    assert.equal(canonical.description, '39.º presidente do Brasil');
    assert.ok(canonical.sitelinks.some((link) => link.site === 'enwiki'));
  });

  it('publishes nothing again for an unchanged revision, nor after a restart', async () => {
    const h = await harness();
    const qids = ['Q37181', 'Q10394575'];
    await connector(h.bus, qids).refreshOnce();
    assert.equal(h.raw.length, 2);

    const again = await connector(h.bus, qids).refreshOnce();
    assert.equal(again.published, 0);
    assert.equal(again.unchanged, 2);

    const restarted = connector(h.bus, qids);
    assert.equal((await restarted.refreshOnce()).published, 0);
    assert.equal(h.raw.length, 2);

    // A new revision is delivered even when none of the kept fields changed.
    const edited = entityFixture('Q10394575');
    edited.lastrevid += 1;
    api.add(edited);
    const bumped = await restarted.refreshOnce();
    assert.equal(bumped.published, 1);
    assert.equal(h.raw.length, 3);
    assert.equal(body(h.raw[2]!).lastrevid, edited.lastrevid);
  });

  it('publishes a redirected entity under the id it redirects to', async () => {
    api.redirect('Q56000001', 'Q37181');
    const h = await harness();

    await connector(h.bus, ['Q56000001']).refreshOnce();

    assert.equal(h.raw.length, 1);
    assert.equal(h.raw[0]!.nativeId, 'Q37181');
    assert.equal(h.raw[0]!.id, canonicalId('wikidata', 'Q37181'));
    assert.equal(h.raw[0]!.sourceUrl, `${api.origin}/wiki/Q37181`);
  });
});

describe('WikidataConnector failures', () => {
  it('waits out maxlag and then publishes, with Retry-After capped', async () => {
    api.override = (_url, request) =>
      request === 1
        ? { headers: { 'retry-after': '1', 'x-database-lag': '7' }, body: fixture('maxlag.json') }
        : undefined;
    const h = await harness();

    const startedAt = Date.now();
    const result = await connector(h.bus, ['Q37181']).refreshOnce();

    assert.equal(api.requests.length, 2);
    assert.ok(Date.now() - startedAt < 900, 'Retry-After of 1 s was capped by maxRetryAfterMs');
    assert.equal(result.published, 1);
    assert.equal(h.raw.length, 1);
  });

  it('fails the refresh with WIKIDATA_MAXLAG while lag persists, and loses nothing', async () => {
    api.override = () => ({ headers: { 'retry-after': '5' }, body: fixture('maxlag.json') });
    const h = await harness();
    const wikidata = connector(h.bus, ['Q37181', 'Q10394575']);

    const err = await rejectsWith(wikidata.refreshOnce(), 'WIKIDATA_MAXLAG');
    assert.equal(err.retryable, true);
    assert.match(err.message, /replication lag 7 s over maxlag 5 s/);
    assert.equal(api.requests.length, 3);
    assert.equal(h.raw.length, 0);
    assert.equal((await wikidata.health()).ok, false);

    api.override = undefined;
    const result = await wikidata.refreshOnce();
    assert.equal(result.published, 2);
    assert.deepEqual(h.raw.map((r) => r.nativeId).sort(), ['Q10394575', 'Q37181']);
    assert.equal((await wikidata.health()).ok, true);
  });

  it('retries a 503 with Retry-After', async () => {
    api.override = (_url, request) =>
      request === 1 ? { status: 503, headers: { 'retry-after': '1' }, body: 'busy' } : undefined;
    const h = await harness();

    const result = await connector(h.bus, ['Q37181']).refreshOnce();

    assert.equal(api.requests.length, 2);
    assert.equal(result.published, 1);
  });

  it('dead-letters a batch the API refuses and publishes the other batches', async () => {
    const qids = Array.from({ length: 60 }, (_, i) => `Q${2000 + i}`);
    api.add(...qids.map((id) => ({ type: 'item', id, lastrevid: 7, labels: {} })));
    const refused = fixture('no-such-entity.json');
    api.override = (url) =>
      url.searchParams.get('ids')?.startsWith('Q2000|') ? { body: refused } : undefined;
    const h = await harness();

    const result = await connector(h.bus, qids).refreshOnce();

    assert.equal(result.deadLettered, 1);
    assert.equal(result.published, 10);
    assert.equal(h.raw.length, 10);
    assert.equal(h.dead.length, 1);
    const letter = h.dead[0]!;
    assert.equal(letter.stage, 'wikidata');
    assert.equal(letter.code, 'WIKIDATA_API_ERROR');
    assert.match(letter.reason, /API error no-such-entity: Could not find an entity/);
    assert.deepEqual(letter.originalBytes, refused);
    assert.equal(letter.sourceUrl, api.requests[0]!.url.href);
  });

  it('dead-letters a missing entity and publishes the others', async () => {
    const h = await harness();

    const result = await connector(h.bus, ['Q37181', 'Q999999999', 'Q10394575']).refreshOnce();

    assert.equal(result.published, 2);
    assert.deepEqual(h.raw.map((r) => r.nativeId).sort(), ['Q10394575', 'Q37181']);
    assert.equal(h.dead.length, 1);
    const letter = h.dead[0]!;
    assert.equal(letter.code, 'WIKIDATA_ENTITY_INVALID');
    assert.equal(letter.recordId, canonicalId('wikidata', 'Q999999999'));
    assert.match(letter.reason, /Q999999999: entity does not exist/);
    assert.deepEqual(JSON.parse(letter.originalBytes.toString()), {
      id: 'Q999999999',
      missing: '',
    });
  });

  it('does not checkpoint what the subscriber has not acknowledged', async () => {
    const first = await harness();
    first.nack = true;
    const wikidata = connector(first.bus, ['Q37181']);

    const refresh = wikidata.refreshOnce();
    await until(() => first.handled >= 1);
    await wikidata.stop();
    await rejectsWith(refresh, 'COMPONENT_STOPPED');
    assert.equal(first.raw.length, 0);
    const saved = await new CheckpointStore(dataDir).load('wikidata-Q37181', null);
    assert.equal(saved, null);
    await first.bus.stop();

    const second = await harness();
    const result = await connector(second.bus, ['Q37181']).refreshOnce();
    assert.equal(result.published, 1);
    assert.equal(second.raw[0]!.nativeId, 'Q37181');
  });
});

describe('WikidataConnector lifecycle', () => {
  it('warns once per outage, reports recovery, and stops promptly', async () => {
    api.override = (_url, request) =>
      request <= 3 ? { status: 503, body: 'Service Temporarily Unavailable' } : undefined;
    const lines: Record<string, any>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    const h = await harness();
    const wikidata = connector(
      h.bus,
      ['Q37181'],
      { maxRetries: 0 },
      createLogger('debug', destination),
    );

    await wikidata.start();
    // The subscriber sees the record before publish resolves and the refresh completes.
    await until(() => lines.some((line) => line.msg === 'wikidata refresh done'));
    assert.equal(h.raw.length, 1);
    assert.equal((await wikidata.health()).ok, true);
    const stoppedAt = Date.now();
    await wikidata.stop();

    assert.ok(Date.now() - stoppedAt < 500, 'stop does not wait for the refresh interval');
    const warnings = lines.filter((line) => line.level === 40);
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.msg, 'wikidata refresh failed; retrying');
    assert.equal(warnings[0]!.code, 'HTTP_STATUS_RETRYABLE');
    assert.ok(lines.some((line) => line.msg === 'wikidata refresh recovered' && line.level === 30));
    assert.equal(api.requests.length, 4);
  });

  it('reports unhealthy while refreshes fail', async () => {
    api.override = () => ({ status: 503, body: 'down' });
    const h = await harness();
    const wikidata = connector(h.bus, ['Q37181'], { maxRetries: 0 });

    await wikidata.start();
    await until(() => api.requests.length >= 2);
    const health = await wikidata.health();
    await wikidata.stop();

    assert.equal(health.ok, false);
    assert.match(health.detail ?? '', /status 503/);
  });
});
