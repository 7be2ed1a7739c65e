import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import { generateTypes } from '../../scripts/generate-types.ts';
import { canonicalId, contentHash } from '../../schemas/identity.ts';
import { codecs } from '../../schemas/index.ts';
import type { CanonicalRecord, NewsArticle } from '../../schemas/types.ts';
import { isAletheiaError } from '../../runtime/errors.ts';

function article(): CanonicalRecord<NewsArticle> {
  return {
    id: canonicalId('rss', 'guid-1'),
    kind: 'article',
    source: 'rss',
    nativeId: 'guid-1',
    sourceUrl: 'https://news.example/feed.xml',
    fetchedAt: Date.UTC(2026, 11, 1),
    publishedAt: null,
    contentHash: contentHash({ title: 'Título' }),
    schemaVersion: 1,
    payload: {
      url: 'https://news.example/a',
      title: 'Título',
      summary: null,
      content: null,
      author: null,
      language: 'pt-br',
      categories: ['Política'],
      imageUrl: null,
      feedUrl: null,
      feedTitle: null,
      mentions: [{ qid: 'Q37181', matchedText: 'Lula', count: 2 }],
      duplicateOf: null,
    },
  };
}

describe('schemas', () => {
  it('keeps the generated TypeScript types in step with the .avsc files', () => {
    const onDisk = readFileSync(new URL('../../schemas/types.ts', import.meta.url), 'utf8');

    assert.equal(onDisk, generateTypes(), 'run `npm run schemas:types` after changing a schema');
  });

  it('round-trips a canonical record', () => {
    const decoded = codecs.article.decode(codecs.article.encode(article()));

    assert.equal(decoded.payload.title, 'Título');
    assert.equal(decoded.payload.mentions[0]?.count, 2);
  });

  it('names the field that does not match', () => {
    const invalid = { ...article(), payload: { ...article().payload, mentions: [{ qid: 'Q1' }] } };

    assert.throws(
      () => codecs.article.encode(invalid as never),
      (err) =>
        isAletheiaError(err, 'RECORD_SCHEMA_INVALID') &&
        /payload\.mentions\.0\.matchedText/.test(err.message),
    );
  });

  it('reports truncated bytes as a decode failure', () => {
    const bytes = codecs.article.encode(article());

    assert.throws(
      () => codecs.article.decode(bytes.subarray(0, 12)),
      (err) => isAletheiaError(err, 'RECORD_DECODE_FAILED'),
    );
  });

  it('derives ids and hashes deterministically', () => {
    assert.equal(canonicalId('rss', 'x'), canonicalId('rss', 'x'));
    assert.notEqual(canonicalId('rss', 'x'), canonicalId('wikidata', 'x'));
    assert.equal(
      contentHash({ a: 1, b: [2, { c: 3, d: 4 }] }),
      contentHash({ b: [2, { d: 4, c: 3 }], a: 1 }),
    );
  });
});
