import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { RssConnector } from '../../../ingest/rss.ts';
import { CheckpointStore } from '../../../runtime/checkpoint.ts';
import { isAletheiaError } from '../../../runtime/errors.ts';
import { silentLogger } from '../../../runtime/log.ts';
import { MemoryBus } from '../../../runtime/memory-bus.ts';
import { normaliseFeedItem } from '../../../processors/normalise/rss.ts';
import { codecs, schemaVersion } from '../../../schemas/index.ts';
import { canonicalId, contentHash } from '../../../schemas/identity.ts';
import { allTopics, topics } from '../../../schemas/topics.ts';
import type { RawRecord } from '../../../schemas/types.ts';
import {
  feedRoute,
  fixture,
  startFeedServer,
  type FeedServer,
} from '../../fixtures/feeds/feed-server.ts';

/** Raw records as the feed connector publishes them for the fixture feeds. */
async function rawRecordsOf(
  server: FeedServer,
  files: Record<string, [string, string]>,
): Promise<RawRecord[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'aletheia-normalise-rss-'));
  const bus = new MemoryBus({ partitions: 4, queueMaxRecords: 1_000 });
  await bus.start();
  await bus.ensureTopics(allTopics());
  const raw: RawRecord[] = [];
  await bus.subscribe(
    { group: 'test', topics: [topics.raw('rss')], maxBatchRecords: 100 },
    async (batch) => void raw.push(...batch.map((d) => codecs.raw.decode(d.value))),
  );
  const connector = new RssConnector({
    bus,
    checkpoints: new CheckpointStore(dataDir),
    log: silentLogger(),
    options: { feeds: [], pollIntervalMs: 60_000, http: server.policy() },
  });

  try {
    for (const [path, [file, contentType]] of Object.entries(files)) {
      server.routes.set(path, feedRoute(fixture(file), contentType));
      await connector.pollFeed(server.url(path));
    }
  } finally {
    await bus.stop();
    await rm(dataDir, { recursive: true, force: true });
  }

  return raw;
}

function rawItem(item: unknown, context: Record<string, string> = {}): RawRecord {
  const nativeId = 'https://www.exemplo.com.br/noticia/1';
  const feedUrl = 'https://www.exemplo.com.br/rss/politica.xml';

  return {
    id: canonicalId('rss', nativeId),
    source: 'rss',
    nativeId,
    sourceUrl: feedUrl,
    fetchedAt: Date.UTC(2024, 4, 14, 22),
    contentType: 'application/vnd.aletheia.feed-item+json',
    body: Buffer.from(typeof item === 'string' ? item : JSON.stringify(item)),
    context: { feedUrl, feedFormat: 'rss', charset: 'utf-8', ...context },
  };
}

describe('normaliseFeedItem', () => {
  let server: FeedServer;
  let raw: RawRecord[];

  before(async () => {
    server = await startFeedServer();
    raw = await rawRecordsOf(server, {
      '/g1': ['g1-politica.rss.xml', 'application/rss+xml; charset=utf-8'],
      '/senado': ['senado-noticias.atom', 'application/atom+xml'],
      '/folhape': ['folhape-latin1.xml', 'application/rss+xml'],
    });
  });

  after(async () => {
    await server.close();
  });

  const byNativeId = (nativeId: string) => raw.find((record) => record.nativeId === nativeId)!;

  it('turns an RSS 2.0 item into a canonical article that matches its schema', () => {
    const link = 'https://g1.globo.com/politica/noticia/2024/05/14/camara-aprova-pec-emendas.ghtml';
    const record = byNativeId(link);

    const article = normaliseFeedItem(record);

    const title = 'Câmara aprova em 1º turno PEC que muda regras de emendas parlamentares';
    const summary =
      'O plenário da Câmara dos Deputados aprovou nesta terça-feira (14), em primeiro turno, a ' +
      'proposta de emenda à Constituição que altera a execução das emendas de relator.';
    const content =
      'O plenário da Câmara dos Deputados aprovou nesta terça-feira (14), em primeiro turno, a ' +
      'proposta de emenda à Constituição (PEC) que altera a execução das emendas parlamentares.\n' +
      'Foram 378 votos a favor e 92 contra. A votação em segundo turno deve ocorrer na próxima ' +
      'semana, segundo a Mesa Diretora.';
    assert.deepEqual(article, {
      id: canonicalId('rss', link),
      kind: 'article',
      source: 'rss',
      nativeId: link,
      sourceUrl: server.url('/g1'),
      fetchedAt: record.fetchedAt,
      publishedAt: Date.UTC(2024, 4, 14, 21, 5),
      contentHash: contentHash({ title, summary, content }),
      schemaVersion,
      payload: {
        url: link,
        title,
        summary,
        content,
        author: 'Redação g1, Brasília',
        language: 'pt-br',
        categories: ['Política', 'Câmara dos Deputados'],
        imageUrl: 'https://s2.glbimg.com/camara-plenario.jpg',
        feedUrl: server.url('/g1'),
        feedTitle: 'g1 > Política',
        mentions: [],
        duplicateOf: null,
      },
    });
    // structuredClone drops the classes avsc decodes into, leaving the values to compare.
    assert.deepEqual(
      structuredClone(codecs.article.decode(codecs.article.encode(article))),
      article,
    );
  });

  it('takes the image from media:content and decodes entities in the summary', () => {
    const record = byNativeId(
      'https://g1.globo.com/politica/noticia/2024/05/14/tse-propaganda-antecipada.ghtml',
    );

    const { payload } = normaliseFeedItem(record);

    assert.equal(payload.imageUrl, 'https://s2.glbimg.com/tse-sessao.jpg');
    assert.equal(
      payload.summary,
      'Por unanimidade, ministros entenderam que houve pedido explícito de voto – o que a ' +
        'legislação proíbe antes de 16 de agosto.',
    );
    assert.equal(payload.content, null);
  });

  it('reads Atom entries: relative link, html title, summary and content apart', () => {
    const record = byNativeId('tag:www12.senado.leg.br,2024:materia-624512');

    const article = normaliseFeedItem(record);

    assert.equal(
      article.payload.url,
      server.url('/noticias/materias/2024/05/14/plenario-aprova-mp-salario-minimo'),
    );
    assert.equal(
      article.payload.title,
      'Plenário aprova MP que reajusta o salário mínimo — texto vai à sanção',
    );
    assert.equal(
      article.payload.summary,
      'A medida provisória foi aprovada por votação simbólica e segue para sanção presidencial.',
    );
    assert.equal(
      article.payload.content,
      'O Plenário do Senado aprovou nesta terça-feira a medida provisória que reajusta o ' +
        'salário mínimo.\nO texto segue para sanção.',
    );
    assert.equal(article.payload.author, 'Agência Senado');
    assert.equal(article.payload.language, 'pt-br');
    assert.deepEqual(article.payload.categories, ['Economia', 'Plenário']);
    assert.equal(article.publishedAt, Date.UTC(2024, 4, 14, 21, 47));
    codecs.article.encode(article);
  });

  it('leaves publishedAt null when the date cannot be read', () => {
    const record = byNativeId('tag:www12.senado.leg.br,2024:materia-624498');

    const article = normaliseFeedItem(record);

    assert.equal(article.publishedAt, null);
    assert.equal(article.payload.content, null);
  });

  it('keeps the accents of a Latin-1 feed', () => {
    const record = raw.find((r) => r.sourceUrl === server.url('/folhape'))!;

    const { payload } = normaliseFeedItem(record);

    assert.equal(payload.title, 'Câmara do Recife aprova ação de regularização fundiária');
    assert.equal(payload.language, 'pt-br');
    assert.equal(payload.feedTitle, 'Folha de Pernambuco - Política');
  });

  it('uses the first words of the summary when an item has no title', () => {
    const article = normaliseFeedItem(
      rawItem({
        link: 'https://www.exemplo.com.br/noticia/1',
        content:
          '<p>Sessão do Congresso que analisaria vetos presidenciais foi adiada para a ' +
          'próxima semana por falta de quórum.</p>',
      }),
    );

    assert.equal(
      article.payload.title,
      'Sessão do Congresso que analisaria vetos presidenciais foi adiada para a próxima…',
    );
    assert.equal(article.payload.language, null);
    assert.equal(article.payload.feedTitle, null);
  });

  it('reads RFC 822 dates written with Portuguese names', () => {
    const article = normaliseFeedItem(
      rawItem({
        title: 'Governo anuncia corte no orçamento',
        link: 'https://www.exemplo.com.br/noticia/1',
        pubDate: 'Ter, 14 Mai 2024 10:00:00 -0300',
      }),
    );

    assert.equal(article.publishedAt, Date.UTC(2024, 4, 14, 13));
  });

  it('takes the name from an RSS author and normalises the language code', () => {
    const article = normaliseFeedItem(
      rawItem(
        {
          title: 'Governo anuncia corte no orçamento',
          link: 'https://www.exemplo.com.br/noticia/1',
          author: 'redacao@exemplo.com.br (Redação Exemplo)',
        },
        { feedLanguage: 'pt_BR' },
      ),
    );

    assert.equal(article.payload.author, 'Redação Exemplo');
    assert.equal(article.payload.language, 'pt-br');
  });

  it('falls back to a permalink guid when the link is missing', () => {
    const article = normaliseFeedItem(
      rawItem({ title: 'Nota oficial', guid: 'https://www.exemplo.com.br/nota/77' }),
    );

    assert.equal(article.payload.url, 'https://www.exemplo.com.br/nota/77');
  });

  it('refuses an item without an http(s) link, naming it', () => {
    const attempt = () =>
      normaliseFeedItem(rawItem({ title: 'Clique aqui', link: 'javascript:alert(1)' }));

    assert.throws(attempt, (err: unknown) => {
      assert.ok(isAletheiaError(err, 'RECORD_UNSUPPORTED'));
      assert.match(err.message, /https:\/\/www\.exemplo\.com\.br\/noticia\/1/);
      assert.match(err.message, /javascript:alert/);
      return true;
    });
  });

  it('refuses a body that is not a JSON object', () => {
    for (const body of ['{"title": "Sem fim', '["lista"]', 'null']) {
      assert.throws(
        () => normaliseFeedItem(rawItem(body)),
        (err: unknown) => isAletheiaError(err, 'RECORD_DECODE_FAILED'),
        body,
      );
    }
  });
});
