/**
 * News feed connector: polls RSS 2.0, RSS 1.0 (RDF) and Atom feeds over HTTP(S) with
 * conditional GET and publishes every item not delivered before as a raw record on `raw.rss`
 * (body: the item's fields as JSON, see `FeedItem`). Each feed has its own poll loop and its
 * own checkpoint (validators and delivered item ids), advanced only once the bus has
 * acknowledged the items, so a restart re-emits nothing already delivered and loses nothing.
 *
 * A feed that cannot be read because of the source (malformed, an HTML page, too large, a
 * redirect loop, a 4xx) is logged once at error and dead-lettered with its bytes; network
 * failures and 5xx are logged once per outage at warn. Either way the feed is fetched again
 * with backoff, and no feed's failure touches the others.
 *
 * Known limits: delivered ids are bounded (`rememberItems`), so a feed listing more items than
 * that re-emits the oldest; an item whose guid changes is a new item; feeds are fetched whole.
 */
import type { Bus, OutgoingRecord } from '../runtime/bus.ts';
import type { CheckpointStore } from '../runtime/checkpoint.ts';
import { deadLetter, publishDeadLetters } from '../runtime/dead-letter.ts';
import { AletheiaError, toAletheiaError, type ErrorCode } from '../runtime/errors.ts';
import { httpGet, type HttpPolicy, type HttpResponse } from '../runtime/http.ts';
import { backoffMs, sleep, type Component, type Health } from '../runtime/lifecycle.ts';
import type { Logger } from '../runtime/log.ts';
import { recordsDropped, recordsIn, recordsOut, sourceErrors } from '../runtime/metrics.ts';
import { codecs } from '../schemas/index.ts';
import { canonicalId, contentHash } from '../schemas/identity.ts';
import { topics } from '../schemas/topics.ts';
import type { DeadLetter, RawRecord } from '../schemas/types.ts';
import { FeedState } from './rss/checkpoint.ts';
import { parseFeed, type FeedItem, type ParsedFeed } from './rss/parse.ts';
import { FeedStatus } from './rss/status.ts';

export interface RssOptions {
  feeds: string[];
  pollIntervalMs: number;
  http: HttpPolicy;
  /** Item ids remembered per feed; must exceed the item count of the longest feed. */
  rememberItems?: number;
  /** First delay before fetching a failed feed again; doubles up to `pollIntervalMs`. */
  retryBaseMs?: number;
}

export interface PollResult {
  feedUrl: string;
  outcome: 'published' | 'not-modified' | 'failed';
  /** Items published on raw.rss. */
  published: number;
  /** Items skipped because an earlier poll delivered them. */
  alreadyDelivered: number;
  /** Items, or the whole feed, sent to dead-letter.rss. */
  deadLettered: number;
  error?: AletheiaError;
}

interface Deps {
  bus: Bus;
  checkpoints: CheckpointStore;
  log: Logger;
  options: RssOptions;
}

export const FEED_ITEM_CONTENT_TYPE = 'application/vnd.aletheia.feed-item+json';

const ACCEPT =
  'application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, ' +
  'application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5';

/** Failures caused by what the source served: worth a dead letter for an operator. */
const SOURCE_FAULTS = new Set<ErrorCode>([
  'FEED_MALFORMED',
  'FEED_NOT_A_FEED',
  'HTTP_BODY_TOO_LARGE',
  'HTTP_REDIRECT_LIMIT',
  'HTTP_CHARSET_UNSUPPORTED',
  'HTTP_STATUS',
]);

const STAGE = 'rss';

export class RssConnector implements Component {
  readonly name = 'ingest.rss';
  private readonly deps: Deps;
  private readonly states = new Map<string, Promise<FeedState>>();
  private readonly statuses = new Map<string, FeedStatus>();
  /** Per feed, the poll in progress: polls of one feed never overlap. */
  private readonly polling = new Map<string, Promise<unknown>>();
  private stopping = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(deps: Deps) {
    this.deps = deps;
  }

  async start(): Promise<void> {
    this.stopping = new AbortController();
    this.loops = this.deps.options.feeds.map((feedUrl) => this.run(feedUrl));
    this.deps.log.info({ feeds: this.deps.options.feeds.length }, 'feed connector started');
  }

  async stop(): Promise<void> {
    this.stopping.abort(new AletheiaError('COMPONENT_STOPPED', 'feed connector stopping'));
    await Promise.allSettled(this.loops);
    this.loops = [];
    this.deps.log.info({}, 'feed connector stopped');
  }

  async health(): Promise<Health> {
    const { feeds } = this.deps.options;
    const failing = feeds.flatMap((feedUrl) => {
      const error = this.statuses.get(feedUrl)?.error;
      return error ? [`${feedUrl} (${error.code})`] : [];
    });
    const total = feeds.length;
    if (failing.length === 0) return { ok: true };

    const detail = `${failing.length} of ${total} feeds failing: ${failing.join(', ')}`;

    return { ok: failing.length < total, detail };
  }

  /** Fetches one feed and publishes its new items; source failures are reported, not thrown. */
  async pollFeed(feedUrl: string, signal?: AbortSignal): Promise<PollResult> {
    const previous = this.polling.get(feedUrl) ?? Promise.resolve();
    const poll = previous.catch(() => {}).then(() => this.pollOnce(feedUrl, signal));
    this.polling.set(feedUrl, poll);

    try {
      return await poll;
    } finally {
      if (this.polling.get(feedUrl) === poll) this.polling.delete(feedUrl);
    }
  }

  private async run(feedUrl: string): Promise<void> {
    const signal = this.stopping.signal;
    const { pollIntervalMs, retryBaseMs = 5_000 } = this.deps.options;
    let pipelineFailures = 0;

    while (!signal.aborted) {
      let delayMs = pollIntervalMs;
      try {
        const result = await this.pollFeed(feedUrl, signal);
        if (result.error) delayMs = this.retryDelayMs(feedUrl, result.error);
        pipelineFailures = 0;
      } catch (err) {
        if (signal.aborted) break;
        // The bus or the checkpoint store failed, not the feed: nothing was remembered, so
        // the next poll publishes the same items again.
        pipelineFailures += 1;
        const level = pipelineFailures === 1 ? 'error' : 'debug';
        this.deps.log[level]({ err, feedUrl }, 'publishing feed items failed; will retry');
        delayMs = backoffMs(pipelineFailures, retryBaseMs, pollIntervalMs);
      }

      await sleep(delayMs, signal);
    }
  }

  private retryDelayMs(feedUrl: string, error: AletheiaError): number {
    const { pollIntervalMs, retryBaseMs = 5_000 } = this.deps.options;
    const failures = this.statuses.get(feedUrl)?.failures ?? 1;

    return Math.max(backoffMs(failures, retryBaseMs, pollIntervalMs), error.retryAfterMs ?? 0);
  }

  private async pollOnce(feedUrl: string, external?: AbortSignal): Promise<PollResult> {
    const stopping = this.stopping.signal;
    const signal = external ? AbortSignal.any([external, stopping]) : stopping;
    const state = await this.stateOf(feedUrl);

    let response: HttpResponse | undefined;
    let feed: ParsedFeed;
    try {
      response = await httpGet(
        { url: feedUrl, etag: state.etag, lastModified: state.lastModified, accept: ACCEPT },
        this.deps.options.http,
        signal,
      );
      if (response.notModified) {
        this.recovered(feedUrl);
        this.deps.log.debug({ feedUrl }, 'feed not modified');
        return { ...nothing(feedUrl), outcome: 'not-modified' };
      }

      feed = await parseFeed(response.body, response.headers['content-type'], feedUrl);
      this.recovered(feedUrl);
    } catch (err) {
      if (signal.aborted) throw err;
      // Past the response, anything thrown is about what the source sent.
      const fallback = response ? 'FEED_MALFORMED' : 'HTTP_NETWORK';
      const error = toAletheiaError(err, fallback, `fetching feed ${feedUrl}`);
      return this.failed(feedUrl, error, response?.body, signal);
    }

    return this.publishItems(feedUrl, feed, response, state, signal);
  }

  private async publishItems(
    feedUrl: string,
    feed: ParsedFeed,
    response: HttpResponse,
    state: FeedState,
    signal: AbortSignal,
  ): Promise<PollResult> {
    const fetchedAt = Date.now();
    const context = feedContext(feedUrl, feed, response);
    const records: OutgoingRecord[] = [];
    const letters: DeadLetter[] = [];
    // Every id in the feed, delivered before or now, so those still listed are kept longest.
    const seen = new Set<string>();
    let alreadyDelivered = 0;
    recordsIn.inc({ stage: STAGE }, feed.items.length);

    for (const item of feed.items) {
      const nativeId = nativeIdOf(item, feedUrl);
      const id = canonicalId('rss', nativeId);
      if (state.has(id) || seen.has(id)) {
        alreadyDelivered += 1;
        seen.add(id);
        continue;
      }

      seen.add(id);
      const bytes = Buffer.from(JSON.stringify(item));
      if (!item.link && !item.title) {
        letters.push(itemDeadLetter(feedUrl, id, nativeId, bytes));
        continue;
      }

      const raw: RawRecord = {
        id,
        source: 'rss',
        nativeId,
        sourceUrl: feedUrl,
        fetchedAt,
        contentType: FEED_ITEM_CONTENT_TYPE,
        body: bytes,
        context,
      };
      records.push({ key: id, value: codecs.raw.encode(raw) });
      this.deps.log.debug({ feedUrl, recordId: id, nativeId }, 'feed item is new');
    }

    // Safe on the bus first, then remembered: a crash in between re-emits, never loses.
    const publishing = Promise.all([
      records.length > 0 ? this.deps.bus.publish(topics.raw('rss'), records) : undefined,
      letters.length > 0 ? publishDeadLetters(this.deps.bus, letters) : undefined,
    ]);
    await untilAborted(publishing, signal, `publishing items of feed ${feedUrl}`);

    const fresh = records.length + letters.length;
    const validatorsChanged =
      response.etag !== state.etag || response.lastModified !== state.lastModified;
    state.advance([...seen], response.etag, response.lastModified);
    if (fresh > 0 || validatorsChanged) await state.save(this.deps.checkpoints);

    recordsOut.inc({ stage: STAGE }, records.length);
    recordsDropped.inc({ stage: STAGE, reason: 'already-delivered' }, alreadyDelivered);
    const counts = { published: records.length, alreadyDelivered, deadLettered: letters.length };
    this.deps.log.debug({ feedUrl, ...counts }, 'feed polled');

    return { feedUrl, outcome: 'published', ...counts };
  }

  /** Reports a failed fetch once per outage, dead-lettering what the source sent. */
  private async failed(
    feedUrl: string,
    error: AletheiaError,
    body: Buffer | undefined,
    signal: AbortSignal,
  ): Promise<PollResult> {
    const status = this.statusOf(feedUrl);
    const news = status.fail(error);
    sourceErrors.inc({ source: STAGE, code: error.code });
    const result: PollResult = { ...nothing(feedUrl), outcome: 'failed', error };

    const context = { err: error, feedUrl, code: error.code, failures: status.failures };
    if (!news) {
      this.deps.log.debug(context, 'feed still failing');
      return result;
    }

    if (error.retryable) {
      this.deps.log.warn(context, 'feed unreachable; retrying with backoff');
      return result;
    }

    this.deps.log.error(context, 'feed unreadable; retrying with backoff');
    if (!SOURCE_FAULTS.has(error.code)) return result;

    const bytes = body ?? Buffer.alloc(0);
    const letter = deadLetter({ stage: STAGE, error, bytes, sourceUrl: feedUrl });
    const publishing = publishDeadLetters(this.deps.bus, [letter]);
    await untilAborted(publishing, signal, `dead-lettering feed ${feedUrl}`);

    return { ...result, deadLettered: 1 };
  }

  private recovered(feedUrl: string): void {
    const outage = this.statuses.get(feedUrl)?.recover();
    if (outage) this.deps.log.info({ feedUrl, ...outage }, 'feed recovered');
  }

  private statusOf(feedUrl: string): FeedStatus {
    let status = this.statuses.get(feedUrl);
    if (!status) this.statuses.set(feedUrl, (status = new FeedStatus()));

    return status;
  }

  private stateOf(feedUrl: string): Promise<FeedState> {
    let state = this.states.get(feedUrl);
    if (!state) {
      const maxItems = this.deps.options.rememberItems ?? 5_000;
      state = FeedState.load(this.deps.checkpoints, feedUrl, maxItems);
      // A failed load is retried on the next poll rather than cached.
      state.catch(() => this.states.delete(feedUrl));
      this.states.set(feedUrl, state);
    }

    return state;
  }
}

function nothing(feedUrl: string): Omit<PollResult, 'outcome'> {
  return { feedUrl, published: 0, alreadyDelivered: 0, deadLettered: 0 };
}

/**
 * guid, else link, else a hash of title and date: stable while the item is unchanged. A guid
 * or hash that is not a URI is only unique within its feed (many sites number their items
 * 1, 2, 3...), so it is scoped by the feed's URL; a URI (a link, an Atom tag: or urn: id)
 * identifies the article wherever it is syndicated.
 */
function nativeIdOf(item: FeedItem, feedUrl: string): string {
  if (item.guid) return isUri(item.guid) ? item.guid : `${feedUrl}#${item.guid}`;
  if (item.link) return item.link;
  const hashed = item.title
    ? contentHash({ title: item.title, date: item.pubDate ?? null })
    : contentHash(item);

  return `${feedUrl}#sha256:${hashed}`;
}

function isUri(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\S+$/i.test(value);
}

function feedContext(feedUrl: string, feed: ParsedFeed, response: HttpResponse) {
  const context: Record<string, string> = {
    feedUrl,
    feedFormat: feed.format,
    charset: feed.charset,
  };
  if (feed.title) context.feedTitle = feed.title;
  if (feed.language) context.feedLanguage = feed.language;
  // Relative item links resolve against where the feed really came from.
  if (response.url !== feedUrl) context.finalUrl = response.url;

  return context;
}

function itemDeadLetter(feedUrl: string, id: string, nativeId: string, bytes: Buffer): DeadLetter {
  const reason = `feed item ${nativeId} in ${feedUrl} has neither link nor title`;
  const error = new AletheiaError('RECORD_UNSUPPORTED', reason, { stage: STAGE, recordId: id });

  return deadLetter({ stage: STAGE, error, bytes, recordId: id, sourceUrl: feedUrl });
}

/**
 * Waits for `work`, or throws when `signal` aborts first. A publish the pipeline never
 * acknowledges (a consumer failing over and over) must not keep the connector from stopping;
 * the checkpoint stays behind, so the items come again after a restart.
 */
async function untilAborted<T>(work: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  const aborted = () =>
    new AletheiaError('COMPONENT_STOPPED', `${what}: stopped before the bus acknowledged`, {
      cause: signal.reason,
    });
  work.catch(() => {});
  if (signal.aborted) throw aborted();

  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
