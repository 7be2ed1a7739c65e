/**
 * What the feed connector remembers per feed across restarts: the validators for conditional
 * GET and the ids of the items already delivered, most recent last, bounded. One checkpoint
 * document per feed, so the feeds' poll loops never write the same file.
 */
import { createHash } from 'node:crypto';

import type { CheckpointStore } from '../../runtime/checkpoint.ts';

interface StoredFeedState {
  feedUrl: string;
  etag?: string;
  lastModified?: string;
  /** Canonical ids of delivered items (published, or dead-lettered), oldest first. */
  delivered: string[];
}

export class FeedState {
  readonly feedUrl: string;
  etag: string | undefined;
  lastModified: string | undefined;
  private readonly delivered: Set<string>;
  private readonly maxItems: number;

  constructor(stored: StoredFeedState, maxItems: number) {
    this.feedUrl = stored.feedUrl;
    this.etag = stored.etag;
    this.lastModified = stored.lastModified;
    this.maxItems = maxItems;
    this.delivered = new Set(stored.delivered.slice(-maxItems));
  }

  static async load(store: CheckpointStore, feedUrl: string, maxItems: number) {
    const stored = await store.load<StoredFeedState>(checkpointName(feedUrl), {
      feedUrl,
      delivered: [],
    });

    return new FeedState({ ...stored, delivered: stored.delivered ?? [] }, maxItems);
  }

  has(id: string): boolean {
    return this.delivered.has(id);
  }

  /** Records delivered ids and the validators of the response they came from. */
  advance(ids: string[], etag: string | undefined, lastModified: string | undefined): void {
    for (const id of ids) {
      // Re-inserting moves an id to the most recent end, so it is evicted last.
      this.delivered.delete(id);
      this.delivered.add(id);
    }

    for (const id of this.delivered) {
      if (this.delivered.size <= this.maxItems) break;
      this.delivered.delete(id);
    }

    this.etag = etag;
    this.lastModified = lastModified;
  }

  async save(store: CheckpointStore): Promise<void> {
    const stored: StoredFeedState = {
      feedUrl: this.feedUrl,
      etag: this.etag,
      lastModified: this.lastModified,
      delivered: [...this.delivered],
    };

    await store.save(checkpointName(this.feedUrl), stored);
  }
}

/** `rss-<hash>`: feed URLs make poor file names, and the URL is kept inside the document. */
export function checkpointName(feedUrl: string): string {
  return `rss-${createHash('sha256').update(feedUrl).digest('hex').slice(0, 16)}`;
}
