import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';

import { checkpointName } from '../../ingest/rss/checkpoint.ts';
import { RssConnector, type RssOptions } from '../../ingest/rss.ts';
import type { Delivery } from '../../runtime/bus.ts';
import { CheckpointStore } from '../../runtime/checkpoint.ts';
import { createLogger } from '../../runtime/log.ts';
import { MemoryBus } from '../../runtime/memory-bus.ts';
import { codecs } from '../../schemas/index.ts';
import { canonicalId } from '../../schemas/identity.ts';
import { allTopics, topics } from '../../schemas/topics.ts';
import type { DeadLetter, RawRecord } from '../../schemas/types.ts';
import {
  feedRoute,
  fixture,
  startFeedServer,
  type FeedServer,
} from '../fixtures/feeds/feed-server.ts';

const RSS = 'application/rss+xml; charset=utf-8';

interface LogLine {
  level: number;
  msg: string;
  feedUrl?: string;
  code?: string;
}

const WARN = 40;
const ERROR = 50;

/** A news site, the in-process bus with a consumer on raw.rss and dead-letter.rss, a data dir. */
class Harness {
  server!: FeedServer;
  bus!: MemoryBus;
  dataDir!: string;
  readonly raw: RawRecord[] = [];
  readonly dead: DeadLetter[] = [];
  readonly logs: LogLine[] = [];
  /** While true the raw.rss consumer fails its batches, so the bus never acknowledges them. */
  rawConsumerFails = false;
  rawAttempts = 0;
  private readonly connectors: RssConnector[] = [];

  async start(): Promise<void> {
    this.server = await startFeedServer();
    this.dataDir = await mkdtemp(join(tmpdir(), 'aletheia-rss-'));
    this.bus = new MemoryBus({ partitions: 4, queueMaxRecords: 1_000, drainTimeoutMs: 2_000 });
    await this.bus.start();
    await this.bus.ensureTopics(allTopics());

    const consumer = { maxBatchRecords: 100 };
    await this.bus.subscribe(
      { ...consumer, group: 'test-raw', topics: [topics.raw('rss')] },
      async (batch: Delivery[]) => {
        this.rawAttempts += 1;
        if (this.rawConsumerFails) throw new Error('consumer not ready');
        for (const delivery of batch) this.raw.push(codecs.raw.decode(delivery.value));
      },
    );
    await this.bus.subscribe(
      { ...consumer, group: 'test-dead', topics: [topics.deadLetter('rss')] },
      async (batch: Delivery[]) => {
        for (const delivery of batch) this.dead.push(codecs.deadLetter.decode(delivery.value));
      },
    );
  }

  /** A new connector over the same data directory, like the process after a restart. */
  connector(options: Partial<RssOptions> = {}): RssConnector {
    const log = createLogger('debug', {
      write: (line: string) => void this.logs.push(JSON.parse(line) as LogLine),
    });
    const connector = new RssConnector({
      bus: this.bus,
      checkpoints: new CheckpointStore(this.dataDir),
      log,
      options: {
        feeds: [],
        pollIntervalMs: 60_000,
        retryBaseMs: 20,
        http: this.server.policy(),
        ...options,
      },
    });
    this.connectors.push(connector);

    return connector;
  }

  items(): Record<string, unknown>[] {
    return this.raw.map((record) => JSON.parse(record.body.toString('utf8')));
  }

  logsAbout(feedUrl: string, level: number): LogLine[] {
    return this.logs.filter((line) => line.feedUrl === feedUrl && line.level === level);
  }

  async close(): Promise<void> {
    for (const connector of this.connectors) await connector.stop();
    await this.bus.stop();
    await this.server.close();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The g1 fixture with one more item at the top, as the feed looks an hour later. */
function g1WithNewItem(): string {
  const newItem = `<item>
      <title>Comissão de Ética abre processo contra deputado por quebra de decoro</title>
      <link>https://g1.globo.com/politica/noticia/2024/05/14/conselho-de-etica-abre-processo.ghtml</link>
      <guid>https://g1.globo.com/politica/noticia/2024/05/14/conselho-de-etica-abre-processo.ghtml</guid>
      <pubDate>Tue, 14 May 2024 19:10:00 -0300</pubDate>
      <description>Representação foi apresentada por partido da base; relator será sorteado.</description>
    </item>
    <item>`;

  return fixture('g1-politica.rss.xml').toString('utf8').replace('<item>', newItem);
}

describe('RssConnector', () => {
  let h: Harness;

  beforeEach(async () => {
    h = new Harness();
    await h.start();
  });

  afterEach(async () => {
    await h.close();
  });

  it('publishes each item of an RSS 2.0 feed with the fields the normaliser needs', async () => {
    h.server.routes.set('/rss/g1/politica/', feedRoute(fixture('g1-politica.rss.xml'), RSS));
    const feedUrl = h.server.url('/rss/g1/politica/');

    const result = await h.connector().pollFeed(feedUrl);

    assert.equal(result.outcome, 'published');
    assert.equal(result.published, 3);
    assert.equal(h.raw.length, 3);
    assert.match(h.server.hits('/rss/g1/politica/')[0]!.headers.accept!, /application\/rss\+xml/);

    const guid = 'https://g1.globo.com/politica/noticia/2024/05/14/camara-aprova-pec-emendas.ghtml';
    const first = h.raw.find((record) => record.nativeId === guid)!;
    assert.equal(first.id, canonicalId('rss', guid));
    assert.equal(first.source, 'rss');
    assert.equal(first.sourceUrl, feedUrl);
    assert.equal(first.contentType, 'application/vnd.aletheia.feed-item+json');
    assert.deepEqual(first.context, {
      feedUrl,
      feedFormat: 'rss',
      feedTitle: 'g1 > Política',
      feedLanguage: 'pt-BR',
      charset: 'utf-8',
    });

    const item = JSON.parse(first.body.toString('utf8'));
    assert.equal(
      item.title,
      'Câmara aprova em 1º turno PEC que muda regras de emendas parlamentares',
    );
    assert.equal(item.link, guid);
    assert.equal(item.creator, 'Redação g1, Brasília');
    assert.equal(item.isoDate, '2024-05-14T21:05:00.000Z');
    assert.deepEqual(item.categories, ['Política', 'Câmara dos Deputados']);
    assert.match(item['content:encoded'], /^<p>O plenário da <strong>Câmara dos Deputados/);
    assert.deepEqual(item.enclosure, {
      url: 'https://s2.glbimg.com/camara-plenario.jpg',
      type: 'image/jpeg',
      length: '48213',
    });

    const tse = h.items().find((i) => String(i.title).startsWith('TSE'))!;
    assert.deepEqual(tse.media, [
      { url: 'https://s2.glbimg.com/tse-sessao.jpg', type: 'image/jpeg', medium: 'image' },
    ]);
    // A guid that is not a URI is unique only within its feed, so the feed scopes it: two
    // sites numbering their items alike once overwrote each other's articles.
    const senado = h.raw.find((record) => record.nativeId.endsWith('#g1-13581234'));
    assert.equal(senado?.nativeId, `${senado?.sourceUrl}#g1-13581234`);
  });

  it('reads RSS 1.0 (RDF) and Atom feeds', async () => {
    h.server.routes.set('/rdf', feedRoute(fixture('camara-ultimas.rdf'), 'application/rdf+xml'));
    h.server.routes.set(
      '/atom',
      feedRoute(fixture('senado-noticias.atom'), 'application/atom+xml'),
    );
    const connector = h.connector();

    const rdf = await connector.pollFeed(h.server.url('/rdf'));
    const atom = await connector.pollFeed(h.server.url('/atom'));

    assert.equal(rdf.published, 2);
    assert.equal(atom.published, 2);
    const fromRdf = h.raw.filter((record) => record.context.feedFormat === 'rdf');
    assert.equal(fromRdf[0]!.context.feedTitle, 'Câmara Notícias - Últimas notícias');
    assert.equal(fromRdf[0]!.context.feedLanguage, 'pt-BR');
    const rdfItem = JSON.parse(fromRdf[0]!.body.toString('utf8'));
    assert.equal(rdfItem.creator, 'Agência Câmara de Notícias');
    assert.equal(rdfItem.isoDate, '2024-05-14T20:10:00.000Z');

    const fromAtom = h.raw.filter((record) => record.context.feedFormat === 'atom');
    assert.equal(fromAtom[0]!.context.feedLanguage, 'pt-BR', 'from xml:lang on <feed>');
    assert.equal(fromAtom[0]!.nativeId, 'tag:www12.senado.leg.br,2024:materia-624512');
    const atomItem = JSON.parse(fromAtom[0]!.body.toString('utf8'));
    assert.equal(atomItem.link, '/noticias/materias/2024/05/14/plenario-aprova-mp-salario-minimo');
    assert.deepEqual(atomItem.categories, ['Economia', 'Plenário']);
    assert.match(atomItem.summary, /votação simbólica/);
    // An unreadable <updated> must not cost the whole feed.
    const second = JSON.parse(fromAtom[1]!.body.toString('utf8'));
    assert.equal(second.title, 'CCJ adia votação de proposta sobre mandatos no STF');
    assert.equal(second.isoDate, undefined);
  });

  const charsets = [
    {
      name: 'ISO-8859-1 bytes declared in the XML declaration',
      file: 'folhape-latin1.xml',
      contentType: 'application/rss+xml',
      title: 'Câmara do Recife aprova ação de regularização fundiária',
      charset: 'windows-1252',
    },
    {
      name: 'ISO-8859-1 bytes labelled in the header',
      file: 'folhape-latin1.xml',
      contentType: 'text/xml; charset=ISO-8859-1',
      title: 'Câmara do Recife aprova ação de regularização fundiária',
      charset: 'windows-1252',
    },
    {
      name: 'windows-1252 smart quotes and dashes',
      file: 'jc-cp1252.xml',
      contentType: 'application/rss+xml',
      title: '“Não haverá anistia”, diz relator sobre dívidas de municípios',
      charset: 'windows-1252',
    },
    {
      name: 'Latin-1 bytes mislabelled utf-8 in the header',
      file: 'diario-mislabelled-latin1.xml',
      contentType: 'application/rss+xml; charset=utf-8',
      title: 'Assembleia Legislativa aprova criação de comissão de fiscalização',
      charset: 'windows-1252',
    },
    {
      name: 'UTF-8 without any charset label',
      file: 'agenciabrasil-no-charset.xml',
      contentType: 'text/xml',
      title: 'Governo envia ao Congresso projeto de lei de diretrizes orçamentárias',
      charset: 'utf-8',
    },
  ];

  for (const { name, file, contentType, title, charset } of charsets) {
    it(`decodes ${name}`, async () => {
      h.server.routes.set('/feed', feedRoute(fixture(file), contentType));

      await h.connector().pollFeed(h.server.url('/feed'));

      const titles = h.items().map((item) => item.title);
      assert.ok(titles.includes(title), `got ${JSON.stringify(titles)}`);
      assert.equal(h.raw[0]!.context.charset, charset);
      const bodies = h.raw.map((record) => record.body.toString('utf8')).join('');
      assert.doesNotMatch(bodies, /\uFFFD|Ã§|Ã£/, 'no replacement characters or mojibake');
    });
  }

  it('keeps smart quotes of a windows-1252 description', async () => {
    h.server.routes.set('/jc', feedRoute(fixture('jc-cp1252.xml'), 'application/rss+xml'));

    await h.connector().pollFeed(h.server.url('/jc'));

    const [item] = h.items();
    assert.equal(
      item!.content,
      'Relator afirmou que o texto – ainda em negociação – mantém a correção pelo IPCA; ' +
        '‘é o possível’, disse.',
    );
    assert.equal(h.raw[0]!.context.feedTitle, 'Jornal do Commercio – Política');
  });

  it('fetches conditionally: a 304 publishes nothing, new items are published once', async () => {
    const path = '/rss/g1/politica/';
    const lastModified = 'Tue, 14 May 2024 21:20:00 GMT';
    h.server.routes.set(
      path,
      feedRoute(fixture('g1-politica.rss.xml'), RSS, { etag: '"v1"', lastModified }),
    );
    const feedUrl = h.server.url(path);
    const connector = h.connector();

    assert.equal((await connector.pollFeed(feedUrl)).published, 3);
    const unchanged = await connector.pollFeed(feedUrl);

    const second = h.server.hits(path)[1]!;
    assert.equal(second.headers['if-none-match'], '"v1"');
    assert.equal(second.headers['if-modified-since'], lastModified);
    assert.equal(unchanged.outcome, 'not-modified');
    assert.equal(unchanged.published, 0);
    assert.equal(h.raw.length, 3);

    h.server.routes.set(path, feedRoute(g1WithNewItem(), RSS, { etag: '"v2"' }));
    const changed = await connector.pollFeed(feedUrl);
    const again = await connector.pollFeed(feedUrl);

    assert.equal(changed.published, 1);
    assert.equal(changed.alreadyDelivered, 3);
    assert.equal(again.outcome, 'not-modified');
    assert.equal(h.server.hits(path)[3]!.headers['if-none-match'], '"v2"');
    const titles = h.items().map((item) => item.title);
    assert.equal(titles.length, 4);
    assert.equal(
      titles.filter(
        (t) => t === 'Comissão de Ética abre processo contra deputado por quebra de decoro',
      ).length,
      1,
    );
  });

  it('re-emits nothing already delivered after a restart', async () => {
    // No validators: only the remembered item ids can tell what was delivered.
    h.server.routes.set('/plain', feedRoute(fixture('g1-politica.rss.xml'), RSS));
    h.server.routes.set('/etag', feedRoute(fixture('camara-ultimas.rdf'), RSS, { etag: '"c1"' }));

    const before = h.connector();
    await before.pollFeed(h.server.url('/plain'));
    await before.pollFeed(h.server.url('/etag'));
    await before.stop();
    assert.equal(h.raw.length, 5);

    const after = h.connector();
    const plain = await after.pollFeed(h.server.url('/plain'));
    const etag = await after.pollFeed(h.server.url('/etag'));

    assert.equal(plain.published, 0);
    assert.equal(plain.alreadyDelivered, 3);
    assert.equal(h.server.hits('/etag')[1]!.headers['if-none-match'], '"c1"');
    assert.equal(etag.outcome, 'not-modified');
    assert.equal(h.raw.length, 5);

    h.server.routes.set('/plain', feedRoute(g1WithNewItem(), RSS));
    assert.equal((await after.pollFeed(h.server.url('/plain'))).published, 1);
    assert.equal((await h.connector().pollFeed(h.server.url('/plain'))).published, 0);
    assert.equal(h.raw.length, 6);
  });

  it('does not advance the checkpoint while the pipeline refuses the items', async () => {
    h.server.routes.set('/feed', feedRoute(fixture('g1-politica.rss.xml'), RSS, { etag: '"v1"' }));
    const feedUrl = h.server.url('/feed');
    const checkpointFile = join(h.dataDir, 'checkpoints', `${checkpointName(feedUrl)}.json`);
    h.rawConsumerFails = true;

    const aborting = new AbortController();
    const refused = h.connector().pollFeed(feedUrl, aborting.signal);
    await waitFor('the consumer to refuse twice', () => h.rawAttempts >= 2);
    aborting.abort();

    await assert.rejects(refused, { code: 'COMPONENT_STOPPED' });
    assert.equal(existsSync(checkpointFile), false, 'nothing remembered');

    // After a restart the same items are published again, validators not sent.
    const restarted = h.connector().pollFeed(feedUrl);
    await waitFor('the restarted poll to fetch', () => h.server.hits('/feed').length === 2);
    assert.equal(h.server.hits('/feed')[1]!.headers['if-none-match'], undefined);
    h.rawConsumerFails = false;
    const result = await restarted;

    assert.equal(result.published, 3);
    assert.ok(existsSync(checkpointFile));
    await waitFor('the first batch to be redelivered', () => h.raw.length === 6);
    assert.equal(new Set(h.raw.map((record) => record.id)).size, 3);
    assert.equal((await h.connector().pollFeed(feedUrl)).outcome, 'not-modified');
  });

  it('dead-letters an item with neither link nor title and publishes the others', async () => {
    h.server.routes.set('/cnn', feedRoute(fixture('item-without-link.xml'), RSS));
    const feedUrl = h.server.url('/cnn');
    const connector = h.connector();

    const result = await connector.pollFeed(feedUrl);
    const again = await connector.pollFeed(feedUrl);

    assert.equal(result.published, 2);
    assert.equal(result.deadLettered, 1);
    assert.equal(again.published + again.deadLettered, 0, 'neither is delivered twice');
    assert.deepEqual(
      h.items().map((item) => item.title),
      [
        'Ministro do STF suspende decreto sobre armas de fogo',
        'Oposição protocola pedido de CPI sobre contratos de publicidade',
      ],
    );
    assert.equal(h.dead.length, 1);
    const [letter] = h.dead;
    assert.equal(letter!.stage, 'rss');
    assert.equal(letter!.code, 'RECORD_UNSUPPORTED');
    assert.equal(letter!.sourceUrl, feedUrl);
    assert.match(letter!.reason, /neither link nor title/);
    const bytes = JSON.parse(letter!.originalBytes.toString('utf8'));
    assert.equal(bytes.content, 'Atualização: a sessão foi encerrada sem votação.');
  });

  it('dead-letters and logs each unreadable feed once; the other feeds go on', async () => {
    const html = fixture('portal-home.html');
    const malformed = fixture('malformed-truncated.xml');
    h.server.routes.set('/good', feedRoute(fixture('g1-politica.rss.xml'), RSS));
    h.server.routes.set('/malformed', feedRoute(malformed, RSS));
    h.server.routes.set('/html', feedRoute(html, 'text/html; charset=utf-8'));
    h.server.routes.set('/gone', (_req, res) => res.writeHead(410).end('removido'));
    h.server.routes.set('/loop-a', (_req, res) =>
      res.writeHead(302, { location: '/loop-b' }).end(),
    );
    h.server.routes.set('/loop-b', (_req, res) =>
      res.writeHead(302, { location: '/loop-a' }).end(),
    );
    h.server.routes.set('/huge', (_req, res) => {
      // Streamed without Content-Length, so only the running count can stop it.
      res.writeHead(200, { 'content-type': RSS });
      res.write('<?xml version="1.0"?><rss version="2.0"><channel><title>Arquivo</title>');
      const item = '<item><title>Notícia antiga</title><description>' + 'x'.repeat(1_000);
      for (let i = 0; i < 400; i += 1) res.write(`${item}</description></item>`);
      res.end('</channel></rss>');
    });
    const expected = {
      '/malformed': { code: 'FEED_MALFORMED', bytes: malformed },
      '/html': { code: 'FEED_NOT_A_FEED', bytes: html },
      '/gone': { code: 'HTTP_STATUS', bytes: Buffer.alloc(0) },
      '/loop-a': { code: 'HTTP_REDIRECT_LIMIT', bytes: Buffer.alloc(0) },
      '/huge': { code: 'HTTP_BODY_TOO_LARGE', bytes: Buffer.alloc(0) },
    };
    const feeds = ['/good', ...Object.keys(expected)].map((path) => h.server.url(path));
    const connector = h.connector({ feeds });

    await connector.start();
    await waitFor('every bad feed to be retried', () =>
      Object.keys(expected).every((path) => h.server.hits(path).length >= 3),
    );
    await connector.stop();

    assert.equal(h.raw.length, 3, 'the good feed is published');
    assert.equal(h.dead.length, 5);
    for (const [path, { code, bytes }] of Object.entries(expected)) {
      const feedUrl = h.server.url(path);
      const letters = h.dead.filter((letter) => letter.sourceUrl === feedUrl);
      assert.equal(letters.length, 1, `one dead letter for ${path}`);
      assert.equal(letters[0]!.code, code);
      assert.equal(letters[0]!.stage, 'rss');
      assert.ok(letters[0]!.originalBytes.equals(bytes), `bytes of ${path}`);
      const errors = h.logsAbout(feedUrl, ERROR);
      assert.equal(errors.length, 1, `one error line for ${path}`);
      assert.equal(errors[0]!.code, code);
    }

    const health = await connector.health();
    assert.equal(health.ok, true, 'one feed still works');
    assert.match(health.detail!, /^5 of 6 feeds failing: /);
    assert.match(health.detail!, /\/html \(FEED_NOT_A_FEED\)/);
  });

  it('tells feeds from pages by their root element, not by their label', async () => {
    const cases = [
      { body: fixture('portal-home.html'), type: RSS, code: 'FEED_NOT_A_FEED' },
      { body: '<?xml version="1.0"?><urlset><url/></urlset>', type: RSS, code: 'FEED_NOT_A_FEED' },
      { body: 'Serviço indisponível', type: 'text/plain', code: 'FEED_MALFORMED' },
      { body: '<rss version="2.0"><channel></channel></rss>', type: RSS, code: 'FEED_MALFORMED' },
      { body: '', type: RSS, code: 'FEED_MALFORMED' },
      { body: fixture('agenciabrasil-no-charset.xml'), type: 'text/html', code: undefined },
    ];
    const connector = h.connector();

    const codes = [];
    for (const [i, { body, type }] of cases.entries()) {
      h.server.routes.set(`/case-${i}`, feedRoute(body, type));
      codes.push((await connector.pollFeed(h.server.url(`/case-${i}`))).error?.code);
    }

    assert.deepEqual(
      codes,
      cases.map((c) => c.code),
    );
    assert.equal(h.raw.length, 1, 'the real feed labelled text/html is read');
  });

  it('warns once per outage, retries with backoff and logs the recovery', async () => {
    let unavailable = 3;
    const feed = feedRoute(fixture('camara-ultimas.rdf'), 'application/rss+xml');
    h.server.routes.set('/camara', (req, res) => {
      if (unavailable-- > 0)
        res.writeHead(503, { 'content-type': 'text/html' }).end('<h1>503</h1>');
      else feed(req, res);
    });
    const feedUrl = h.server.url('/camara');
    const connector = h.connector({ feeds: [feedUrl] });

    await connector.start();
    await waitFor('the feed to recover', () => h.raw.length === 2);
    const health = await connector.health();
    await connector.stop();

    assert.equal(h.server.hits('/camara').length, 4);
    assert.equal(h.logsAbout(feedUrl, WARN).length, 1);
    assert.equal(h.logsAbout(feedUrl, WARN)[0]!.code, 'HTTP_STATUS_RETRYABLE');
    const recovered = h.logs.filter((line) => line.msg === 'feed recovered');
    assert.equal(recovered.length, 1);
    assert.equal(h.dead.length, 0, 'an outage is no dead letter');
    assert.deepEqual(health, { ok: true });
  });

  it('reports unhealthy when every feed fails', async () => {
    const feeds = [h.server.url('/missing-a'), h.server.url('/missing-b')];
    const connector = h.connector({ feeds });
    assert.deepEqual(await connector.health(), { ok: true });

    for (const feedUrl of feeds) await connector.pollFeed(feedUrl);

    const health = await connector.health();
    assert.equal(health.ok, false);
    assert.match(health.detail!, /2 of 2 feeds failing: .*missing-a \(HTTP_STATUS\)/);
  });

  it('stops promptly while a fetch is in flight', async () => {
    h.server.routes.set('/slow', () => {});
    const connector = h.connector({
      feeds: [h.server.url('/slow')],
      http: h.server.policy({ timeoutMs: 30_000 }),
    });

    await connector.start();
    await waitFor('the fetch to start', () => h.server.hits('/slow').length === 1);
    const startedAt = Date.now();
    await connector.stop();

    assert.ok(Date.now() - startedAt < 1_000, 'stop does not wait for the timeout');
    assert.equal(h.dead.length, 0);
    assert.equal(h.logs.filter((line) => line.level >= WARN).length, 0);
  });
});
