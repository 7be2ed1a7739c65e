/**
 * Feed bytes to feed items: decodes the character set, refuses HTML pages served in place of a
 * feed, parses RSS 2.0, RSS 1.0 (RDF) and Atom with rss-parser, and keeps, for each item, the
 * fields the normaliser reads as plain JSON (`FeedItem`, the body of a raw feed-item record).
 *
 * Known limits: JSON Feed is not supported; Atom documents whose elements carry a namespace
 * prefix (`<atom:feed>`) are not recognised; `media:group` is not looked into; a DTD's own
 * entities are not expanded (so entity-expansion bombs are harmless) but fail the parse.
 */
import Parser from 'rss-parser';

import { decodeText, mediaType } from '../../runtime/charset.ts';
import { AletheiaError } from '../../runtime/errors.ts';

/** One feed item as published on raw.rss, named as rss-parser names the fields. */
export interface FeedItem {
  title?: string;
  link?: string;
  /** RSS guid, Atom id or RSS 1.0 rdf:about. */
  guid?: string;
  isoDate?: string;
  /** As the feed wrote it (RSS pubDate or dc:date), kept for dates rss-parser cannot read. */
  pubDate?: string;
  creator?: string;
  author?: string;
  /** Atom summary. */
  summary?: string;
  /** RSS description or Atom content, as markup. */
  content?: string;
  contentSnippet?: string;
  'content:encoded'?: string;
  categories?: string[];
  enclosure?: { url: string; type?: string; length?: string };
  /** media:content and media:thumbnail elements. */
  media?: { url: string; type?: string; medium?: string }[];
  /** dc:language of the item. */
  language?: string;
}

export type FeedFormat = 'rss' | 'rdf' | 'atom';

export interface ParsedFeed {
  format: FeedFormat;
  title?: string;
  language?: string;
  /** Character set the bytes were decoded with. */
  charset: string;
  items: FeedItem[];
}

/** rss-parser's output, read defensively: xml2js values may be strings or elements. */
type RawFeed = Record<string, unknown> & { items: Record<string, unknown>[] };

const ROOTS: Record<string, FeedFormat> = { rss: 'rss', 'rdf:rdf': 'rdf', feed: 'atom' };

const customFields = {
  feed: [['dc:language', 'dcLanguage']],
  item: [
    ['media:content', 'mediaContent', { keepArray: true }],
    ['media:thumbnail', 'mediaThumbnail', { keepArray: true }],
    // rss-parser reads RSS <category> itself but ignores Atom's <category term="...">.
    ['category', 'categoryElements', { keepArray: true }],
  ],
};

// Prolog parts that may precede the root element: declarations, comments, doctype.
const PROLOG = /^(?:\s+|<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!DOCTYPE[^>[]*(?:\[[\s\S]*?\])?\s*>)*/i;

export async function parseFeed(
  body: Buffer,
  contentType: string | undefined,
  feedUrl: string,
): Promise<ParsedFeed> {
  const { text, charset } = decodeText(body, contentType, 'xml');
  if (text.trim() === '') {
    throw new AletheiaError('FEED_MALFORMED', `parsing feed ${feedUrl}: empty body`);
  }

  // The root element decides, not the label: servers do serve real feeds as text/html.
  const root = rootElement(text);
  const format = root ? ROOTS[root.name.toLowerCase()] : undefined;
  const type = mediaType(contentType);
  const html = root?.name.toLowerCase() === 'html' || (type === 'text/html' && !format);
  if (html || (root && !format)) {
    const what = html ? 'an HTML page' : `a document with root <${root!.name}>`;
    const reason = `got ${what} (${type ?? 'no media type'}), not RSS or Atom`;
    throw new AletheiaError('FEED_NOT_A_FEED', `parsing feed ${feedUrl}: ${reason}`);
  }

  let parsed: RawFeed;
  try {
    // A new parser each time: xml2js keeps state in the parser between documents.
    const parser = new Parser({ defaultRSS: 2, customFields } as Parser.ParserOptions<{}, {}>);
    parsed = (await parser.parseString(blankUnreadableAtomDates(text))) as unknown as RawFeed;
  } catch (err) {
    const reason = (err as Error).message.replace(/\s*\n\s*/g, ', ');
    throw new AletheiaError('FEED_MALFORMED', `parsing feed ${feedUrl}: ${reason}`, { cause: err });
  }

  const title = textOf(parsed.title);
  // xml2js is lenient: text that is barely XML parses to a feed with nothing in it.
  if (!title && parsed.items.length === 0) {
    const reason = 'no title and no items in a non-empty document';
    throw new AletheiaError('FEED_MALFORMED', `parsing feed ${feedUrl}: ${reason}`);
  }

  const language = textOf(parsed.language) ?? textOf(parsed.dcLanguage) ?? root?.lang;

  return { format: format!, title, language, charset, items: parsed.items.map(keepFields) };
}

/** The first element after the prolog: its name and xml:lang, if the text has one. */
function rootElement(text: string): { name: string; lang?: string } | undefined {
  const prolog = PROLOG.exec(text)?.[0].length ?? 0;
  const tag = /^<([A-Za-z_][\w:.-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>/.exec(text.slice(prolog));
  if (!tag) return undefined;

  const lang = /\sxml:lang\s*=\s*["']([^"']+)["']/.exec(tag[2]!)?.[1];

  return { name: tag[1]!, lang };
}

/**
 * rss-parser converts Atom <published>/<updated> with `new Date(...).toISOString()` unguarded,
 * so one unreadable date would fail the whole feed; such dates are emptied beforehand.
 */
function blankUnreadableAtomDates(text: string): string {
  return text.replace(/<(published|updated)>([^<]*)<\/\1>/g, (element, name: string, value) =>
    Number.isNaN(new Date(value).getTime()) ? `<${name}></${name}>` : element,
  );
}

function keepFields(item: Record<string, unknown>): FeedItem {
  const kept: FeedItem = {
    title: textOf(item.title),
    link: textOf(item.link),
    guid: textOf(item.guid) ?? textOf(item.id) ?? textOf(item['rdf:about']),
    isoDate: textOf(item.isoDate),
    pubDate: textOf(item.pubDate) ?? textOf(item.date),
    creator: textOf(item.creator),
    author: textOf(item.author),
    summary: textOf(item.summary),
    content: textOf(item.content),
    contentSnippet: textOf(item.contentSnippet),
    'content:encoded': textOf(item['content:encoded']),
    categories: categoriesOf(item.categories ?? item.categoryElements),
    enclosure: enclosureOf(item.enclosure),
    media: mediaOf([item.mediaContent, item.mediaThumbnail]),
    language: textOf(item.language),
  };

  return Object.fromEntries(Object.entries(kept).filter(([, value]) => value !== undefined));
}

/** Text of an xml2js value: a string, or an element with attributes holding text in `_`. */
export function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() || undefined;
  if (typeof value === 'number') return String(value);
  if (value !== null && typeof value === 'object' && '_' in value) return textOf(value._);

  return undefined;
}

function attributes(value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object') return {};
  const attrs = '$' in value ? value.$ : value;

  return attrs !== null && typeof attrs === 'object' ? (attrs as Record<string, unknown>) : {};
}

function categoriesOf(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const names = value.map((category) => {
    const attrs = attributes(category);
    return textOf(category) ?? textOf(attrs.label) ?? textOf(attrs.term);
  });
  const unique = [...new Set(names.filter((name) => name !== undefined))];

  return unique.length > 0 ? unique : undefined;
}

function enclosureOf(value: unknown): FeedItem['enclosure'] {
  const attrs = attributes(value);
  const url = textOf(attrs.url);
  if (!url) return undefined;

  return { url, type: textOf(attrs.type), length: textOf(attrs.length) };
}

function mediaOf(lists: unknown[]): FeedItem['media'] {
  const media = lists
    .flatMap((list) => (Array.isArray(list) ? list : []))
    .flatMap((element) => {
      const attrs = attributes(element);
      const url = textOf(attrs.url);
      return url ? [{ url, type: textOf(attrs.type), medium: textOf(attrs.medium) }] : [];
    });

  return media.length > 0 ? media : undefined;
}
