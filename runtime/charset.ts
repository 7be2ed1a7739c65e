/**
 * Turns fetched bytes into text, deciding the character encoding the way browsers do:
 * byte order mark, then the Content-Type charset, then what the document declares about itself
 * (XML declaration or HTML <meta>), then a look at the bytes, then UTF-8.
 *
 * Feeds in the wild are often mislabelled, so a label is checked against the bytes: text
 * labelled UTF-8 that is not valid UTF-8 is read as windows-1252, and text labelled Latin-1 that
 * is valid multi-byte UTF-8 is read as UTF-8. Both cases report `source: 'sniffed'`.
 *
 * Known limits: only UTF-8 and the windows-1252 family are sniffed; any other encoding must be
 * labelled. UTF-32 is not recognised.
 */

import iconv from 'iconv-lite';
import { AletheiaError } from './errors.ts';

export interface DecodedText {
  text: string;
  /** Name of the encoding used, lower-case (`utf-8`, `windows-1252`, `utf-16le`, ...). */
  charset: string;
  /** How the encoding was decided. */
  source: 'bom' | 'header' | 'xml-declaration' | 'meta' | 'sniffed' | 'default';
}

type Source = DecodedText['source'];

const BOMS = [
  { bytes: [0xef, 0xbb, 0xbf], charset: 'utf-8' },
  { bytes: [0xff, 0xfe], charset: 'utf-16le' },
  { bytes: [0xfe, 0xff], charset: 'utf-16be' },
] as const;

// Like the WHATWG Encoding standard, Latin-1 and ASCII labels mean windows-1252: the only
// difference is 0x80-0x9F, which real Latin-1 text never uses but mislabelled CP1252 text does.
const WINDOWS_1252_LABELS = new Set([
  'windows-1252',
  'cp1252',
  'x-cp1252',
  'iso-8859-1',
  'iso8859-1',
  'iso_8859-1',
  'latin1',
  'l1',
  'cp819',
  'ibm819',
  'iso-ir-100',
  'csisolatin1',
  'us-ascii',
  'ascii',
  'iso_8859-1:1987',
]);
const UTF8_LABELS = new Set(['utf-8', 'utf8', 'unicode-1-1-utf-8', 'x-unicode20utf8']);

/** How far into a document its own encoding declaration is looked for. */
const PRESCAN_BYTES = 1024;

export function decodeText(
  body: Buffer,
  contentType: string | undefined,
  kind: 'xml' | 'html' | 'json' | 'text',
): DecodedText {
  const bom = BOMS.find((b) => b.bytes.every((byte, i) => body[i] === byte));
  if (bom) return decodeWith(body.subarray(bom.bytes.length), bom.charset, 'bom');

  const labels: Array<[string | undefined, Source]> = [[charsetParam(contentType), 'header']];
  if (kind === 'xml') labels.push([xmlDeclaration(body), 'xml-declaration']);
  if (kind === 'html') labels.push([metaCharset(body), 'meta']);

  for (const [label, source] of labels) {
    const charset = label && resolveLabel(label, source !== 'header');
    if (charset) return decodeChecked(body, charset, source);
  }

  return decodeChecked(body, 'utf-8', 'default');
}

/** 'application/rss+xml; charset=x' -> 'application/rss+xml'. */
export function mediaType(contentType: string | undefined): string | undefined {
  const type = contentType?.split(';')[0]!.trim().toLowerCase();

  return type || undefined;
}

function charsetParam(contentType: string | undefined): string | undefined {
  return contentType?.match(/;\s*charset\s*=\s*"?([^";\s]+)/i)?.[1];
}

function xmlDeclaration(body: Buffer): string | undefined {
  const head = body.subarray(0, PRESCAN_BYTES).toString('latin1');

  return head.match(/^\s*<\?xml\s[^>]*?encoding\s*=\s*["']([^"']+)["']/)?.[1];
}

/** Both `<meta charset="x">` and `<meta http-equiv="Content-Type" content="...; charset=x">`. */
function metaCharset(body: Buffer): string | undefined {
  const head = body.subarray(0, PRESCAN_BYTES).toString('latin1');

  return head.match(/<meta\s[^>]*?charset\s*=\s*["']?\s*([^"'\s;/>]+)/i)?.[1];
}

/**
 * The encoding to decode with, or undefined when the label is unknown and the next clue
 * should decide. A document that declares UTF-16 inside itself was readable as ASCII, so the
 * declaration is wrong and is ignored, as browsers do.
 */
function resolveLabel(label: string, inDocument: boolean): string | undefined {
  const name = label.trim().toLowerCase();
  if (UTF8_LABELS.has(name)) return 'utf-8';
  if (WINDOWS_1252_LABELS.has(name)) return 'windows-1252';
  if (inDocument && name.startsWith('utf-16')) return undefined;

  return iconv.encodingExists(name) ? name : undefined;
}

/** Decodes with a claimed charset unless the bytes show the claim to be a mislabel. */
function decodeChecked(body: Buffer, charset: string, source: Source): DecodedText {
  if (charset !== 'utf-8' && charset !== 'windows-1252') return decodeWith(body, charset, source);

  const utf8 = strictUtf8(body);
  if (charset === 'utf-8') {
    return utf8 === undefined
      ? decodeWith(body, 'windows-1252', 'sniffed')
      : { text: utf8, charset, source };
  }

  // Non-ASCII bytes that happen to form valid UTF-8 are almost never genuine Latin-1 text.
  const hasNonAscii = body.some((byte) => byte >= 0x80);
  if (utf8 !== undefined && hasNonAscii) return { text: utf8, charset: 'utf-8', source: 'sniffed' };

  return decodeWith(body, charset, source);
}

function strictUtf8(body: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body);
  } catch {
    return undefined;
  }
}

function decodeWith(body: Buffer, charset: string, source: Source): DecodedText {
  if (charset === 'utf-8') {
    return { text: new TextDecoder('utf-8', { ignoreBOM: true }).decode(body), charset, source };
  }

  try {
    return { text: iconv.decode(body, charset, { stripBOM: false }), charset, source };
  } catch (err) {
    const message = `decoding ${body.length} bytes as ${charset} (from ${source})`;
    throw new AletheiaError('HTTP_CHARSET_UNSUPPORTED', message, { cause: err });
  }
}
