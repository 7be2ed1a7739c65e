/**
 * Feed item (raw.rss, `application/vnd.aletheia.feed-item+json`) to canonical news article.
 * Markup becomes plain text, the link an absolute http(s) URL, the feed's language a lower-case
 * BCP 47 code, the date epoch milliseconds. Mentions and duplicates are left empty for the
 * processors that follow.
 */
import { AletheiaError } from '../../runtime/errors.ts';
import { schemaVersion } from '../../schemas/index.ts';
import { contentHash } from '../../schemas/identity.ts';
import type { CanonicalRecord, NewsArticle, RawRecord } from '../../schemas/types.ts';
import { htmlToText } from '../html-text.ts';

/** Words of the summary used as a title when an item has none. */
const TITLE_WORDS = 12;

const IMAGE_PATH = /\.(?:jpe?g|png|gif|webp|avif)(?:[?#]|$)/i;

// Brazilian feeds sometimes write RFC 822 dates with Portuguese names: "Ter, 14 Mai 2024".
const PORTUGUESE_MONTHS = new Map(
  'jan fev mar abr mai jun jul ago set out nov dez'.split(' ').map((pt, i) => {
    const english = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split(' ')[i]!;
    return [pt, english] as const;
  }),
);

type Item = Record<string, unknown>;

export function normaliseFeedItem(raw: RawRecord): CanonicalRecord<NewsArticle> {
  const item = decodeItem(raw);
  const feedUrl = raw.context.feedUrl ?? raw.sourceUrl;
  const base = raw.context.finalUrl ?? feedUrl;

  const url = absoluteHttpUrl(stringOf(item.link), base) ?? permalinkGuid(item, base);
  if (!url) {
    const link = stringOf(item.link);
    const got = link ? `'${link.slice(0, 200)}'` : 'none';
    const reason = `feed item ${raw.nativeId} from ${feedUrl} has no http(s) link (got ${got})`;
    throw new AletheiaError('RECORD_UNSUPPORTED', reason, { stage: 'normalise', recordId: raw.id });
  }

  // Atom keeps summary and content apart; RSS puts the summary in <description>, which
  // rss-parser calls content, and the full text in <content:encoded>.
  const atom = raw.context.feedFormat === 'atom';
  const summaryMarkup = atom ? item.summary : (item.content ?? item.summary);
  const contentMarkup = atom ? item.content : item['content:encoded'];
  const summary = plainText(summaryMarkup) ?? (atom ? null : plainText(item.contentSnippet));
  const content = plainText(contentMarkup);
  const title = oneLine(item.title) ?? firstWords(summary ?? content) ?? url;

  const payload: NewsArticle = {
    url,
    title,
    summary,
    content,
    author: authorOf(item),
    language: languageOf(stringOf(item.language) ?? raw.context.feedLanguage),
    categories: categoriesOf(item.categories),
    imageUrl: imageOf(item, base),
    feedUrl,
    feedTitle: raw.context.feedTitle ?? null,
    mentions: [],
    duplicateOf: null,
  };

  return {
    id: raw.id,
    kind: 'article',
    source: raw.source,
    nativeId: raw.nativeId,
    sourceUrl: raw.sourceUrl,
    fetchedAt: raw.fetchedAt,
    publishedAt: dateOf(stringOf(item.isoDate)) ?? dateOf(stringOf(item.pubDate)),
    contentHash: contentHash({ title, summary, content }),
    schemaVersion,
    payload,
  };
}

function decodeItem(raw: RawRecord): Item {
  let item: unknown;
  try {
    item = JSON.parse(raw.body.toString('utf8'));
  } catch (err) {
    const reason = `decoding feed item ${raw.nativeId}: ${(err as Error).message}`;
    throw new AletheiaError('RECORD_DECODE_FAILED', reason, {
      cause: err,
      stage: 'normalise',
      recordId: raw.id,
    });
  }

  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    const reason = `decoding feed item ${raw.nativeId}: expected a JSON object`;
    throw new AletheiaError('RECORD_DECODE_FAILED', reason, {
      stage: 'normalise',
      recordId: raw.id,
    });
  }

  return item as Item;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function plainText(value: unknown): string | null {
  const markup = stringOf(value);

  return (markup && htmlToText(markup)) || null;
}

function oneLine(value: unknown): string | null {
  return plainText(value)?.replace(/\s+/g, ' ') ?? null;
}

function firstWords(text: string | null): string | null {
  const words = text?.split(/\s+/).filter(Boolean) ?? [];
  if (words.length === 0) return null;

  const title = words.slice(0, TITLE_WORDS).join(' ');

  return words.length > TITLE_WORDS ? `${title}…` : title;
}

function absoluteHttpUrl(value: string | undefined, base: string): string | null {
  if (!value) return null;
  try {
    const url = new URL(value, base);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

/** An RSS guid is often the permalink itself; used when the link is missing or unusable. */
function permalinkGuid(item: Item, base: string): string | null {
  const guid = stringOf(item.guid);

  return guid && /^https?:\/\//i.test(guid) ? absoluteHttpUrl(guid, base) : null;
}

/** dc:creator, else RSS author, which is "email (Name)" by the specification. */
function authorOf(item: Item): string | null {
  const author = oneLine(item.creator) ?? oneLine(item.author);

  return author?.match(/^\S+@\S+\s*\((.+)\)$/)?.[1]?.trim() ?? author;
}

function languageOf(value: string | undefined): string | null {
  return value?.toLowerCase().replace(/_/g, '-') || null;
}

function categoriesOf(value: unknown): string[] {
  const names = Array.isArray(value) ? value.map(oneLine) : [];

  return [...new Set(names.filter((name) => name !== null))];
}

/** An image enclosure, else an image from media:content/thumbnail, else the first <img>. */
function imageOf(item: Item, base: string): string | null {
  const candidates: unknown[] = [item.enclosure, ...(Array.isArray(item.media) ? item.media : [])];
  for (const candidate of candidates) {
    if (candidate === null || typeof candidate !== 'object') continue;
    const { url, type, medium } = candidate as Record<string, unknown>;
    const link = stringOf(url);
    const kind = stringOf(type) ?? stringOf(medium);
    const image = kind ? /^image\b/i.test(kind) : IMAGE_PATH.test(link ?? '');
    const absolute = image ? absoluteHttpUrl(link, base) : null;
    if (absolute) return absolute;
  }

  for (const markup of [item['content:encoded'], item.content, item.summary]) {
    const source = stringOf(markup)?.match(/<img\s[^>]*?src\s*=\s*["']([^"']+)["']/i)?.[1];
    const absolute = absoluteHttpUrl(source, base);
    if (absolute) return absolute;
  }

  return null;
}

/** Epoch milliseconds of an RFC 822 or ISO 8601 date, also with Portuguese names. */
function dateOf(value: string | undefined): number | null {
  if (!value) return null;
  const parsed = Date.parse(value);
  if (!Number.isNaN(parsed)) return parsed;

  let month = false;
  const english = value
    .toLowerCase()
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .replace(/\p{L}+(?:-feira)?/gu, (word) => {
      const name = PORTUGUESE_MONTHS.get(word.slice(0, 3));
      if (name) {
        month = true;
        return name;
      }

      return ['gmt', 'utc', 'ut', 'z'].includes(word) ? word.toUpperCase() : ' ';
    })
    .replace(/^[\s,]+/, '');
  const retried = month ? Date.parse(english) : Number.NaN;

  return Number.isNaN(retried) ? null : retried;
}
