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

const LATIN1_NAMES = [
  'nbsp',
  'iexcl',
  'cent',
  'pound',
  'curren',
  'yen',
  'brvbar',
  'sect',
  'uml',
  'copy',
  'ordf',
  'laquo',
  'not',
  'shy',
  'reg',
  'macr',
  'deg',
  'plusmn',
  'sup2',
  'sup3',
  'acute',
  'micro',
  'para',
  'middot',
  'cedil',
  'sup1',
  'ordm',
  'raquo',
  'frac14',
  'frac12',
  'frac34',
  'iquest',
  'Agrave',
  'Aacute',
  'Acirc',
  'Atilde',
  'Auml',
  'Aring',
  'AElig',
  'Ccedil',
  'Egrave',
  'Eacute',
  'Ecirc',
  'Euml',
  'Igrave',
  'Iacute',
  'Icirc',
  'Iuml',
  'ETH',
  'Ntilde',
  'Ograve',
  'Oacute',
  'Ocirc',
  'Otilde',
  'Ouml',
  'times',
  'Oslash',
  'Ugrave',
  'Uacute',
  'Ucirc',
  'Uuml',
  'Yacute',
  'THORN',
  'szlig',
  'agrave',
  'aacute',
  'acirc',
  'atilde',
  'auml',
  'aring',
  'aelig',
  'ccedil',
  'egrave',
  'eacute',
  'ecirc',
  'euml',
  'igrave',
  'iacute',
  'icirc',
  'iuml',
  'eth',
  'ntilde',
  'ograve',
  'oacute',
  'ocirc',
  'otilde',
  'ouml',
  'divide',
  'oslash',
  'ugrave',
  'uacute',
  'ucirc',
  'uuml',
  'yacute',
  'thorn',
  'yuml',
];

const NAMED: Record<string, number> = {
  amp: 0x26,
  lt: 0x3c,
  gt: 0x3e,
  quot: 0x22,
  apos: 0x27,
  OElig: 0x152,
  oelig: 0x153,
  Scaron: 0x160,
  scaron: 0x161,
  Yuml: 0x178,
  fnof: 0x192,
  circ: 0x2c6,
  tilde: 0x2dc,
  ensp: 0x2002,
  emsp: 0x2003,
  thinsp: 0x2009,
  zwnj: 0x200c,
  zwj: 0x200d,
  lrm: 0x200e,
  rlm: 0x200f,
  ndash: 0x2013,
  mdash: 0x2014,
  lsquo: 0x2018,
  rsquo: 0x2019,
  sbquo: 0x201a,
  ldquo: 0x201c,
  rdquo: 0x201d,
  bdquo: 0x201e,
  dagger: 0x2020,
  Dagger: 0x2021,
  bull: 0x2022,
  hellip: 0x2026,
  permil: 0x2030,
  prime: 0x2032,
  Prime: 0x2033,
  lsaquo: 0x2039,
  rsaquo: 0x203a,
  euro: 0x20ac,
  trade: 0x2122,
  larr: 0x2190,
  rarr: 0x2192,
  ...Object.fromEntries(LATIN1_NAMES.map((name, i) => [name, 0xa0 + i])),
};

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
  const withoutMarkup = html
    .replace(/\u0000/g, '')
    .replace(DROPPED_ELEMENTS, ' ')
    .replace(COMMENTS, ' ')
    .replace(CDATA, '$1')
    .replace(DECLARATIONS, ' ')
    .replace(TAG, (_tag, name: string) => (BLOCK.test(name) ? '\u0000' : ''));

  return decodeReferences(withoutMarkup)
    .replace(/\s+/g, ' ')
    .replace(/ ?\u0000[\s\u0000]*/g, '\n')
    .trim();
}

/** Decodes named and numeric character references; unknown names stay as written. */
export function decodeReferences(text: string): string {
  return text.replace(REFERENCE, (whole, decimal?: string, hex?: string, name?: string) => {
    if (name !== undefined) {
      const code = NAMED[name];
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
