import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { reduceEntity } from '../../../ingest/wikidata/entity.ts';
import { normaliseWikidataEntity } from '../../../processors/normalise/wikidata.ts';
import { isAletheiaError } from '../../../runtime/errors.ts';
import { codecs, schemaVersion } from '../../../schemas/index.ts';
import { canonicalId } from '../../../schemas/identity.ts';
import type { RawRecord } from '../../../schemas/types.ts';
import { entityFixture } from '../../fixtures/wikidata/api-server.ts';

const fetchedAt = Date.parse('2025-03-15T08:00:00Z');

function raw(entity: unknown, qid = 'Q37181'): RawRecord {
  return {
    id: canonicalId('wikidata', qid),
    source: 'wikidata',
    nativeId: qid,
    sourceUrl: `https://www.wikidata.org/wiki/${qid}`,
    fetchedAt,
    contentType: 'application/vnd.wikidata.entity+json',
    body: Buffer.from(typeof entity === 'string' ? entity : JSON.stringify(entity)),
    context: {},
  };
}

describe('normaliseWikidataEntity', () => {
  it('normalises a politician with every kept field', () => {
    const record = normaliseWikidataEntity(raw(entityFixture('Q37181')));

    assert.equal(record.id, canonicalId('wikidata', 'Q37181'));
    assert.equal(record.kind, 'entity');
    assert.equal(record.source, 'wikidata');
    assert.equal(record.nativeId, 'Q37181');
    assert.equal(record.sourceUrl, 'https://www.wikidata.org/wiki/Q37181');
    assert.equal(record.fetchedAt, fetchedAt);
    assert.equal(record.publishedAt, Date.parse('2025-03-14T18:22:05Z'));
    assert.equal(record.schemaVersion, schemaVersion);
    assert.match(record.contentHash, /^[0-9a-f]{64}$/);

    assert.deepEqual(record.payload, {
      qid: 'Q37181',
      label: 'Luiz Inácio Lula da Silva',
      labelLanguage: 'pt-br',
      description: '39.º presidente do Brasil',
      descriptionLanguage: 'pt-br',
      labels: {
        'pt-br': 'Luiz Inácio Lula da Silva',
        pt: 'Lula da Silva',
        en: 'Luiz Inácio Lula da Silva',
      },
      // Case-insensitive: 'luiz inácio lula da silva' is the label, 'LULA' repeats 'Lula'.
      aliases: ['Lula', 'Luiz Inácio da Silva', 'Lula da Silva', 'Luiz Inacio Lula da Silva'],
      instanceOf: ['Q5'],
      image: 'Foto oficial de Luiz Inácio Lula da Silva (2023).jpg',
      logo: null,
      socialHandles: [
        { property: 'P2002', platform: 'twitter', handle: 'LulaOficial' },
        { property: 'P2003', platform: 'instagram', handle: 'lulaoficial' },
        { property: 'P2013', platform: 'facebook', handle: 'Lula' },
        { property: 'P2397', platform: 'youtube', handle: 'UCbP9zkXgRQDEySMD6xKtq7w' },
        { property: 'P12361', platform: 'bluesky', handle: 'lula.com.br' },
      ],
      sitelinks: [
        {
          site: 'commonswiki',
          title: 'Category:Luiz Inácio Lula da Silva',
          url: 'https://commons.wikimedia.org/wiki/Category:Luiz_In%C3%A1cio_Lula_da_Silva',
        },
        {
          site: 'enwiki',
          title: 'Luiz Inácio Lula da Silva',
          url: 'https://en.wikipedia.org/wiki/Luiz_In%C3%A1cio_Lula_da_Silva',
        },
        {
          site: 'eswiki',
          title: 'Luiz Inácio Lula da Silva',
          url: 'https://es.wikipedia.org/wiki/Luiz_In%C3%A1cio_Lula_da_Silva',
        },
        {
          site: 'ptwiki',
          title: 'Luiz Inácio Lula da Silva',
          url: 'https://pt.wikipedia.org/wiki/Luiz_In%C3%A1cio_Lula_da_Silva',
        },
      ],
      lastRevisionId: 2312998874,
      modifiedAt: Date.parse('2025-03-14T18:22:05Z'),
    });

    // avsc decodes nested records as class instances; compare their plain values.
    const decoded = codecs.entity.decode(codecs.entity.encode(record));
    assert.deepEqual(JSON.parse(JSON.stringify(decoded)), record);
  });

  it('falls back to pt for the label and keeps pt-br for the description', () => {
    const { payload } = normaliseWikidataEntity(raw(entityFixture('Q10394575'), 'Q10394575'));

    assert.equal(payload.label, 'Geraldo Alckmin');
    assert.equal(payload.labelLanguage, 'pt');
    assert.equal(payload.descriptionLanguage, 'pt-br');
    assert.deepEqual(payload.aliases, ['Geraldo José Rodrigues Alckmin Filho', 'Alckmin']);
    // A "no value" statement is not a handle.
    assert.deepEqual(payload.socialHandles, [
      { property: 'P2002', platform: 'twitter', handle: 'geraldoalckmin' },
    ]);
  });

  it('falls back to English and leaves the description empty when there is none', () => {
    const record = normaliseWikidataEntity(raw(entityFixture('Q118200300'), 'Q118200300'));
    const { payload } = record;

    assert.equal(payload.label, 'Electoral Transparency Observatory');
    assert.equal(payload.labelLanguage, 'en');
    assert.equal(payload.description, null);
    assert.equal(payload.descriptionLanguage, null);
    assert.deepEqual(payload.aliases, []);
    assert.deepEqual(payload.instanceOf, ['Q163740']);
    assert.equal(payload.image, null);
    assert.equal(payload.logo, 'Electoral Transparency Observatory logo.svg');
    assert.deepEqual(payload.socialHandles, [
      { property: 'P4033', platform: 'mastodon', handle: 'observatorio@mastodon.com.br' },
      { property: 'P7085', platform: 'tiktok', handle: 'observatorioeleitoral' },
    ]);
    assert.deepEqual(payload.sitelinks, []);
    codecs.entity.encode(record);
  });

  it('normalises an entity with nothing but its id', () => {
    const record = normaliseWikidataEntity(raw({ type: 'item', id: 'Q4115189' }, 'Q4115189'));

    assert.deepEqual(record.payload, {
      qid: 'Q4115189',
      label: null,
      labelLanguage: null,
      description: null,
      descriptionLanguage: null,
      labels: {},
      aliases: [],
      instanceOf: [],
      image: null,
      logo: null,
      socialHandles: [],
      sitelinks: [],
      lastRevisionId: 0,
      modifiedAt: null,
    });
    assert.equal(record.publishedAt, null);
    codecs.entity.encode(record);
  });

  it('reads the same entity from the connector body as from the full response', () => {
    const full = entityFixture('Q37181');

    const fromFull = normaliseWikidataEntity(raw(full));
    const fromReduced = normaliseWikidataEntity(raw(reduceEntity(full as { id: string })));

    assert.deepEqual(fromReduced, fromFull);
  });

  it('computes the sitelink URL when the response has none', () => {
    const entity = {
      id: 'Q37181',
      sitelinks: { ptwiki: { site: 'ptwiki', title: 'Luiz Inácio Lula da Silva', badges: [] } },
    };

    const { payload } = normaliseWikidataEntity(raw(entity));

    assert.deepEqual(payload.sitelinks, [
      {
        site: 'ptwiki',
        title: 'Luiz Inácio Lula da Silva',
        url: 'https://pt.wikipedia.org/wiki/Luiz_In%C3%A1cio_Lula_da_Silva',
      },
    ]);
  });

  it('hashes the content, not the revision', () => {
    const entity = entityFixture('Q37181');
    const before = normaliseWikidataEntity(raw(entity));

    entity.lastrevid += 1;
    entity.modified = '2025-04-01T00:00:00Z';
    const touched = normaliseWikidataEntity(raw(entity));
    entity.labels['pt-br'].value = 'Lula';
    const relabelled = normaliseWikidataEntity(raw(entity));

    assert.equal(touched.contentHash, before.contentHash);
    assert.notEqual(relabelled.contentHash, before.contentHash);
  });

  it('refuses a body that is not JSON', () => {
    assert.throws(
      () => normaliseWikidataEntity(raw('{"id":"Q37181",')),
      (err: unknown) =>
        isAletheiaError(err, 'RECORD_DECODE_FAILED') &&
        err.recordId === canonicalId('wikidata', 'Q37181') &&
        /decoding Wikidata entity Q37181/.test(err.message),
    );
  });

  it('refuses a body that is not an entity', () => {
    for (const body of [[], { type: 'item' }, { id: 'P31' }, { id: 'Q999999999', missing: '' }]) {
      assert.throws(
        () => normaliseWikidataEntity(raw(body)),
        (err: unknown) => isAletheiaError(err, 'WIKIDATA_ENTITY_INVALID'),
        JSON.stringify(body),
      );
    }
  });
});
