import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { EntityIndex } from '../../processors/link-entities.ts';

function index(): EntityIndex {
  const entities = new EntityIndex(['Q37181', 'Q10304982']);
  entities.update({
    qid: 'Q37181',
    labels: { 'pt-br': 'Luiz Inácio Lula da Silva', en: 'Luiz Inácio Lula da Silva' },
    aliases: ['Lula', 'Lula da Silva'],
  });
  entities.update({ qid: 'Q10304982', labels: { pt: 'Jair Bolsonaro' }, aliases: ['Bolsonaro'] });

  return entities;
}

describe('EntityIndex', () => {
  it('links labels and aliases ignoring case and accents, reporting the text as written', () => {
    const mentions = index().link([
      'LULA recebe Bolsonaro',
      'Luiz Inacio Lula da Silva disse que Lula não vai comentar.',
    ]);

    assert.deepEqual(mentions, [
      { qid: 'Q10304982', matchedText: 'Bolsonaro', count: 1 },
      { qid: 'Q37181', matchedText: 'LULA', count: 3 },
    ]);
  });

  it('matches whole words only', () => {
    assert.deepEqual(
      index().link(['Bolsonarista e lulismo não são nomes; Lulalândia também não.']),
      [],
    );
  });

  it('matches names across line breaks and repeated spaces', () => {
    const [mention] = index().link(['Jair\n  Bolsonaro']);

    assert.equal(mention?.matchedText, 'Jair\n  Bolsonaro');
  });

  it('ignores entities that are not tracked and names shorter than three letters', () => {
    const entities = new EntityIndex(['Q1']);
    assert.equal(entities.update({ qid: 'Q2', labels: { en: 'Universe' }, aliases: [] }), false);
    entities.update({ qid: 'Q1', labels: { en: 'Universe' }, aliases: ['U', 'PT'] });

    assert.deepEqual(entities.link(['U PT universe']), [
      { qid: 'Q1', matchedText: 'universe', count: 1 },
    ]);
    assert.equal(entities.complete(), true);
  });

  it('survives a snapshot and restore', () => {
    const restored = new EntityIndex(['Q37181', 'Q10304982']);
    restored.restore(index().snapshot());

    assert.equal(restored.link(['Lula'])[0]?.qid, 'Q37181');
    assert.equal(restored.complete(), true);
  });
});
