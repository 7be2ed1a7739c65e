/**
 * Input of the Kafka pipeline benchmark: the benchmark feed items (Brazilian political news,
 * shaped as the RSS connector publishes them on raw.rss, see feed-items.ts) cut down to about
 * 1 KB per encoded record (1.0 to 1.4 KB, 1.23 KB on average): the description keeps only the
 * headline's sentence, as many feeds give only a lead. Records are encoded once and kept in
 * one buffer, and only cut into `OutgoingRecord`s when published, so tens of thousands of
 * small buffers do not sit in the heap the pipeline's collections have to walk.
 */
import type { OutgoingRecord } from '../../runtime/bus.ts';
import type { FeedItem } from '../../ingest/rss/parse.ts';
import { codecs } from '../../schemas/index.ts';
import type { RawRecord } from '../../schemas/types.ts';
import { generateFeedItems } from './feed-items.ts';

export interface PackedRecords {
  count: number;
  totalBytes: number;
  slice(start: number, end: number): OutgoingRecord[];
}

/** The item with its description cut to the headline's sentence and the item's label. */
function shorten(raw: RawRecord): Buffer {
  const item = JSON.parse(raw.body.toString('utf8')) as FeedItem;
  const sentences = (item.contentSnippet ?? '').split(/(?<=\.) (?=[A-Z(])/);
  // the last sentence names the item ("(Matéria 12.)"), so every description stays distinct
  const description = [sentences[0], sentences.at(-1)].join(' ');
  const image = /<img src="([^"]+)"/.exec(item.content ?? '')?.[1];
  const shortened: FeedItem = {
    ...item,
    content: image ? `<img src="${image}" /><br />${description}` : description,
    contentSnippet: description,
  };

  return codecs.raw.encode({ ...raw, body: Buffer.from(JSON.stringify(shortened)) });
}

/** `count` raw feed-item records with one-sentence descriptions, packed for publishing. */
export function compactFeedItems(count: number): PackedRecords {
  const raws = generateFeedItems(count);
  const keys = raws.map((raw) => raw.id);
  const encoded = raws.map((raw) => shorten(raw));
  const offsets = new Uint32Array(count + 1);
  encoded.forEach((bytes, i) => (offsets[i + 1] = offsets[i]! + bytes.length));
  const packed = Buffer.concat(encoded);

  return {
    count,
    totalBytes: packed.length,
    slice: (start, end) =>
      keys.slice(start, end).map((key, i) => ({
        key,
        value: packed.subarray(offsets[start + i], offsets[start + i + 1]),
      })),
  };
}
