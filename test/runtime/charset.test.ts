import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeText, mediaType } from '../../runtime/charset.ts';

const latin1 = (text: string) => Buffer.from(text, 'latin1');

describe('decodeText', () => {
  it('decodes an ISO-8859-1 labelled body', () => {
    const body = latin1('<title>Reforma da Previdência: ação no Senado</title>');

    const decoded = decodeText(body, 'text/xml; charset=ISO-8859-1', 'xml');

    assert.equal(decoded.text, '<title>Reforma da Previdência: ação no Senado</title>');
    assert.equal(decoded.charset, 'windows-1252');
    assert.equal(decoded.source, 'header');
  });

  it('reads 0x93/0x94 as smart quotes under a Latin-1 label, as browsers do', () => {
    const body = Buffer.concat([
      latin1('ministro diz '),
      Buffer.from([0x93]),
      latin1('não'),
      Buffer.from([0x94]),
    ]);

    const decoded = decodeText(body, 'text/html; charset=iso-8859-1', 'html');

    assert.equal(decoded.text, 'ministro diz \u201cnão\u201d');
  });

  it('falls back to windows-1252 when a UTF-8 label meets Latin-1 bytes', () => {
    const body = latin1('<rss><title>Votação da PEC</title></rss>');

    const decoded = decodeText(body, 'application/rss+xml; charset=utf-8', 'xml');

    assert.equal(decoded.text, '<rss><title>Votação da PEC</title></rss>');
    assert.equal(decoded.charset, 'windows-1252');
    assert.equal(decoded.source, 'sniffed');
  });

  it('reads UTF-8 bytes under a Latin-1 label as UTF-8', () => {
    const body = Buffer.from('Eleições municipais', 'utf8');

    const decoded = decodeText(body, 'text/xml; charset=iso-8859-1', 'xml');

    assert.equal(decoded.text, 'Eleições municipais');
    assert.equal(decoded.source, 'sniffed');
  });

  it('uses the XML declaration when the header has no charset', () => {
    const xml = '<?xml version="1.0" encoding="ISO-8859-1"?><rss><title>Câmara</title></rss>';

    const decoded = decodeText(latin1(xml), 'application/xml', 'xml');

    assert.equal(decoded.text, xml);
    assert.equal(decoded.source, 'xml-declaration');
  });

  it('prefers the header over the XML declaration', () => {
    const body = Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><t>São Paulo</t>');

    const decoded = decodeText(body, 'text/xml; charset="UTF-8"', 'xml');

    assert.equal(decoded.text, '<?xml version="1.0" encoding="ISO-8859-1"?><t>São Paulo</t>');
    assert.equal(decoded.source, 'header');
  });

  it('strips a UTF-8 BOM and lets it win over the header', () => {
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('Política')]);

    const decoded = decodeText(body, 'text/plain; charset=iso-8859-1', 'text');

    assert.equal(decoded.text, 'Política');
    assert.equal(decoded.charset, 'utf-8');
    assert.equal(decoded.source, 'bom');
  });

  it('decodes UTF-16LE with a BOM', () => {
    const json = Buffer.from('{"título":"ação"}', 'utf16le');
    const body = Buffer.concat([Buffer.from([0xff, 0xfe]), json]);

    const decoded = decodeText(body, 'application/json', 'json');

    assert.equal(decoded.text, '{"título":"ação"}');
    assert.equal(decoded.charset, 'utf-16le');
    assert.equal(decoded.source, 'bom');
  });

  it('defaults to UTF-8 for valid Portuguese text without a charset', () => {
    const decoded = decodeText(Buffer.from('Supremo decide sobre Orçamento'), undefined, 'text');

    assert.equal(decoded.text, 'Supremo decide sobre Orçamento');
    assert.equal(decoded.charset, 'utf-8');
    assert.equal(decoded.source, 'default');
  });

  it('sniffs windows-1252 when there is no label and the bytes are not UTF-8', () => {
    const decoded = decodeText(latin1('Notícias'), 'text/plain', 'text');

    assert.equal(decoded.text, 'Notícias');
    assert.equal(decoded.source, 'sniffed');
  });

  it('reads <meta charset> and http-equiv in HTML', () => {
    const meta = latin1('<html><head><meta charset="iso-8859-1"><title>Eleição</title>');
    const equiv = latin1(
      '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">é',
    );

    assert.deepEqual(decodeText(meta, 'text/html', 'html'), {
      text: '<html><head><meta charset="iso-8859-1"><title>Eleição</title>',
      charset: 'windows-1252',
      source: 'meta',
    });
    assert.equal(decodeText(equiv, 'text/html', 'html').source, 'meta');
  });

  it('skips an unknown label and moves on to the next clue', () => {
    const body = latin1('<?xml version="1.0" encoding="iso-8859-15"?><t>Preço: 10 \xa4</t>');

    const decoded = decodeText(body, 'text/xml; charset=x-klingon', 'xml');

    assert.equal(decoded.charset, 'iso-8859-15');
    assert.equal(decoded.source, 'xml-declaration');
    assert.match(decoded.text, /Preço: 10 €/);
  });
});

describe('mediaType', () => {
  it('drops parameters and lower-cases', () => {
    assert.equal(mediaType('Application/RSS+XML; charset=ISO-8859-1'), 'application/rss+xml');
    assert.equal(mediaType(undefined), undefined);
    assert.equal(mediaType(''), undefined);
  });
});
