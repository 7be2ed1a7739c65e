/**
 * Markup to plain text for the normalisers: feed descriptions, article bodies and post texts
 * arrive as HTML fragments. Tags are dropped (script and style with their content), character
 * references decoded, whitespace collapsed. Block-level boundaries (paragraphs, line breaks,
 * list items, headings) become a single line break so sentences of different paragraphs do
 * not run together; everything else collapses to single spaces.
 *
 * Known limits: a regular-expression scan, not an HTML parser. Malformed markup degrades to
 * text containing stray `<`; named references cover Latin-1 and common typography only.
 */

// Names of U+00A0 to U+00FF, in code point order.
const LATIN1_NAMES = (
  'nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg ' +
  'plusmn sup2 sup3 acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest ' +
  'Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute ' +
  'Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc ' +
  'Uuml Yacute THORN szlig agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ' +
  'ecirc euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide ' +
  'oslash ugrave uacute ucirc uuml yacute thorn yuml'
).split(' ');

// Other names met in news markup, as name:hex code point.
const OTHER_NAMES =
  'amp:26 lt:3c gt:3e quot:22 apos:27 OElig:152 oelig:153 Scaron:160 scaron:161 Yuml:178 ' +
  'fnof:192 circ:2c6 tilde:2dc ensp:2002 emsp:2003 thinsp:2009 zwnj:200c zwj:200d lrm:200e ' +
  'rlm:200f ndash:2013 mdash:2014 lsquo:2018 rsquo:2019 sbquo:201a ldquo:201c rdquo:201d ' +
  'bdquo:201e dagger:2020 Dagger:2021 bull:2022 hellip:2026 permil:2030 prime:2032 ' +
  'Prime:2033 lsaquo:2039 rsaquo:203a euro:20ac trade:2122 larr:2190 rarr:2192';

const NAMED = new Map<string, number>([
  ...LATIN1_NAMES.map((name, i) => [name, 0xa0 + i] as const),
  ...OTHER_NAMES.split(' ').map((pair) => {
    const [name, hex] = pair.split(':') as [string, string];
    return [name, parseInt(hex, 16)] as const;
  }),
]);

// Numeric references to 0x80-0x9F mean the windows-1252 character there, as browsers read
// them: CMS exports from Latin-1 databases write &#147; for a left double quote.
const WINDOWS_1252_C1 =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d' +
  '\u008f\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153' +
  '\u009d\u017e\u0178';

const BLOCK_TAGS =
  'address|article|aside|blockquote|br|dd|div|dl|dt|figcaption|figure|footer|h[1-6]|header|' +
  'hr|li|main|nav|ol|p|pre|section|table|td|th|tr|ul';

const DROPPED_ELEMENTS = /<(script|style|noscript|template)\b[^>]*>[\s\S]*?<\/\1\s*>/gi;
const COMMENTS = /<!--[\s\S]*?-->/g;
const CDATA = /<!\[CDATA\[([\s\S]*?)\]\]>/g;
const DECLARATIONS = /<[!?][^>]*>/g;
// A tag with quoted attribute values, which may themselves contain '>'.
const TAG = /<\/?([a-zA-Z][a-zA-Z0-9:-]*)(?:[^>"']|"[^"]*"|'[^']*')*>/g;
const BLOCK = new RegExp(`^(?:${BLOCK_TAGS})$`, 'i');
const REFERENCE = /&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([A-Za-z][A-Za-z0-9]{1,7}));/g;

export function htmlToText(html: string): string {
  // Block boundaries are marked with NUL while whitespace is collapsed, then become '\n'.
  // Steps that cannot match are skipped: most feed titles have no markup and no references.
  let text = html.replace(/\u0000/g, '');
  if (text.includes('<')) {
    text = text
      .replace(DROPPED_ELEMENTS, ' ')
      .replace(COMMENTS, ' ')
      .replace(CDATA, '$1')
      .replace(DECLARATIONS, ' ')
      .replace(TAG, (_tag, name: string) => (BLOCK.test(name) ? '\u0000' : ''));
  }
  if (text.includes('&')) text = decodeReferences(text);

  // Only runs and whitespace other than a single space need replacing, not every space.
  text = text.replace(/\s{2,}|[^\S ]/g, ' ');
  if (text.includes('\u0000')) text = text.replace(/ ?\u0000[\s\u0000]*/g, '\n');

  return text.trim();
}

/** Decodes named and numeric character references; unknown names stay as written. */
export function decodeReferences(text: string): string {
  return text.replace(REFERENCE, (whole, decimal?: string, hex?: string, name?: string) => {
    if (name !== undefined) {
      const code = NAMED.get(name);
      return code === undefined ? whole : String.fromCodePoint(code);
    }

    return fromCodePoint(decimal !== undefined ? Number(decimal) : parseInt(hex!, 16));
  });
}

function fromCodePoint(code: number): string {
  if (code >= 0x80 && code <= 0x9f) return WINDOWS_1252_C1[code - 0x80]!;
  if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return '\ufffd';

  return String.fromCodePoint(code);
}
