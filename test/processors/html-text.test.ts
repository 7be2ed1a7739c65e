import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { decodeReferences, htmlToText } from '../../processors/html-text.ts';

describe('htmlToText', () => {
  it('drops tags, scripts, styles and comments and keeps paragraphs apart', () => {
    const html =
      '<p>O plenário da <strong>Câmara</strong> aprovou a PEC.</p>\n' +
      '<script>var ad = "<p>publicidade</p>";</script><style>p { color: red }</style>' +
      '<!-- bloco de anúncio --><p>Foram 378 votos<br/>a favor.</p>';

    assert.equal(
      htmlToText(html),
      'O plenário da Câmara aprovou a PEC.\nForam 378 votos\na favor.',
    );
  });

  it('decodes Portuguese named references and numeric ones', () => {
    assert.equal(
      htmlToText('A&ccedil;&atilde;o na C&acirc;mara: &Eacute; &#233; &#xE9; &ordm; &nbsp;fim'),
      'Ação na Câmara: É é é º fim',
    );
  });

  it('reads numeric references in 128-159 as windows-1252, like browsers', () => {
    assert.equal(
      decodeReferences('&#147;sim&#148; &#150; &#8220;n&atilde;o&#8221;'),
      '“sim” – “não”',
    );
  });

  it('leaves unknown references and stray brackets as text', () => {
    assert.equal(htmlToText('5 &lt; 7 &amp; 3 &foo; a < b'), '5 < 7 & 3 &foo; a < b');
  });

  it('keeps quoted attributes containing > from leaking into the text', () => {
    assert.equal(htmlToText('<img alt="a > b" src="x.jpg">Legenda'), 'Legenda');
  });

  it('collapses whitespace and trims', () => {
    assert.equal(htmlToText('  \n\t Texto   com\n\n espaços \u00a0 '), 'Texto com espaços');
    assert.equal(htmlToText('<div>\n  <p> um </p>\n\n  <p>dois</p>\n</div>'), 'um\ndois');
    assert.equal(htmlToText(''), '');
  });

  it('does not turn invalid code points into text', () => {
    assert.equal(decodeReferences('a&#0;b&#xD800;c&#1114112;'), 'a\ufffdb\ufffdc\ufffd');
  });
});
