/**
 * Wikidata connector: reads the tracked entities from a Wikibase instance's Action API
 * (`wbgetentities`, at most 50 ids a request, honouring maxlag) every refresh interval and
 * publishes each changed entity on `raw.wikidata`, reduced to what the normaliser reads.
 *
 * Per entity it checkpoints the last version delivered (after `publish` resolved) and merges
 * every response over it, so a refresh never replaces a known label, statement or sitelink
 * with nothing, and a restart re-publishes nothing already delivered. Missing entities and API
 * errors go to `dead-letter.wikidata`.
 *
 * Known limits: a term, property or sitelink really removed on Wikidata stays in the merged
 * entity until a response carries a new value for it; qualifiers and references are not
 * kept; a 503 carrying a maxlag body is reported as an HTTP error, not WIKIDATA_MAXLAG.
 */
import type { Bus, OutgoingRecord } from '../runtime/bus.ts';
import type { CheckpointStore } from '../runtime/checkpoint.ts';
import { deadLetter, publishDeadLetters } from '../runtime/dead-letter.ts';
import { AletheiaError, toAletheiaError } from '../runtime/errors.ts';
import type { HttpPolicy } from '../runtime/http.ts';
import { backoffMs, sleep, type Component, type Health } from '../runtime/lifecycle.ts';
import type { Logger } from '../runtime/log.ts';
import { recordsDropped, recordsIn, recordsOut, sourceErrors } from '../runtime/metrics.ts';
import { codecs } from '../schemas/index.ts';
import { canonicalId, stableJson } from '../schemas/identity.ts';
import { topics } from '../schemas/topics.ts';
import type { DeadLetter } from '../schemas/types.ts';
import { WikidataApi, type Batch } from './wikidata/api.ts';
import {
  isObject,
  mergeEntity,
  qidPattern,
  reduceEntity,
  type ReducedEntity,
  type WireEntity,
} from './wikidata/entity.ts';

export const wikidataEntityContentType = 'application/vnd.wikidata.entity+json';

export interface WikidataOptions {
  /** MediaWiki Action API endpoint, e.g. https://www.wikidata.org/w/api.php. */
  apiUrl: string;
  /** Entities to fetch, as QIDs (Q42). */
  qids: string[];
  refreshIntervalMs: number;
  /** Sent as `maxlag`: the API refuses requests while replication lags more than this. */
  maxlagSeconds: number;
  /** Sent on every request; see `userAgent()`. */
  userAgent: string;
  http: HttpPolicy;
  /** Attempts after the first for one request (maxlag, 429, 5xx, network). Default 5. */
  maxRetries?: number;
  /** First backoff step when the server names no wait. Default 1000. */
  retryBaseMs?: number;
  /** Longest wait between two attempts, whatever Retry-After asks. Default 60000. */
  maxRetryAfterMs?: number;
}

export interface RefreshResult {
  /** QIDs asked for. */
  requested: number;
  /** wbgetentities batches fetched. */
  batches: number;
  /** Entities published because they were new or changed. */
  published: number;
  /** Entities identical to what was delivered before, not published again. */
  unchanged: number;
  deadLettered: number;
}

/**
 * User-Agent following the Wikimedia policy:
 * `<client>/<version> (<contact>) <library>/<version>`.
 */
export function userAgent(contact: string, version: string): string {
  return `AletheiaIntegration/${version} (${contact}) Node.js/${process.versions.node}`;
}

/** Throws unless every QID is well formed; returns them without duplicates. */
export function checkQids(qids: readonly string[]): string[] {
  for (const qid of qids) {
    if (!qidPattern.test(qid)) {
      throw new AletheiaError('CONFIG_INVALID', `expected a QID like Q42, got '${qid}'`);
    }
  }

  return [...new Set(qids)];
}

export class WikidataConnector implements Component {
  readonly name = 'ingest.wikidata';
  private readonly bus: Bus;
  private readonly checkpoints: CheckpointStore;
  private readonly log: Logger;
  private readonly options: WikidataOptions;
  private readonly qids: string[];
  private readonly api: WikidataApi;
  private readonly retryBaseMs: number;
  /** Last delivered entity per QID, loaded from its checkpoint on first use. */
  private readonly delivered = new Map<string, ReducedEntity | null>();
  private stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private refreshing: Promise<unknown> = Promise.resolve();
  private lastError: AletheiaError | undefined;

  constructor(deps: {
    bus: Bus;
    checkpoints: CheckpointStore;
    log: Logger;
    options: WikidataOptions;
  }) {
    this.bus = deps.bus;
    this.checkpoints = deps.checkpoints;
    this.log = deps.log;
    this.options = deps.options;
    this.qids = checkQids(deps.options.qids);
    this.retryBaseMs = deps.options.retryBaseMs ?? 1000;
    this.api = new WikidataApi({
      apiUrl: deps.options.apiUrl,
      maxlagSeconds: deps.options.maxlagSeconds,
      http: { ...deps.options.http, userAgent: deps.options.userAgent },
      maxRetries: deps.options.maxRetries ?? 5,
      retryBaseMs: this.retryBaseMs,
      maxRetryAfterMs: deps.options.maxRetryAfterMs ?? 60_000,
      log: this.log,
    });
  }

  async start(): Promise<void> {
    if (this.loop) return;
    this.stopping = new AbortController();
    this.loop = this.run(this.stopping.signal);
    this.log.info({ entities: this.qids.length }, 'wikidata connector started');
  }

  async stop(): Promise<void> {
    this.stopping.abort(new AletheiaError('COMPONENT_STOPPED', 'wikidata connector stopped'));
    await this.loop;
    this.loop = undefined;
  }

  async health(): Promise<Health> {
    if (!this.lastError) return { ok: true };

    return { ok: false, detail: `last Wikidata refresh failed: ${this.lastError.message}` };
  }

  /** Fetches every tracked entity once and publishes the changed ones. One refresh at a time. */
  refreshOnce(signal?: AbortSignal): Promise<RefreshResult> {
    const both = signal ? AbortSignal.any([signal, this.stopping.signal]) : this.stopping.signal;
    const run = this.refreshing.then(() => this.refresh(both));
    this.refreshing = run.catch(() => {});

    return run;
  }

  /** Refreshes every interval; after a failure retries sooner, with backoff. */
  private async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      let waitMs = this.options.refreshIntervalMs;
      try {
        const result = await this.refreshOnce(signal);
        if (failures > 0) this.log.info({ failures }, 'wikidata refresh recovered');
        this.log.info({ ...result }, 'wikidata refresh done');
        failures = 0;
      } catch (err) {
        if (signal.aborted) break;

        const error = toAletheiaError(err, 'WIKIDATA_API_ERROR', 'refreshing Wikidata entities');
        failures += 1;
        this.report(error, failures);
        if (error.retryable) waitMs = backoffMs(failures, this.retryBaseMs, waitMs);
      }

      await sleep(waitMs, signal);
    }
  }

  /** One warning per outage; the failures after it, until a refresh succeeds, at debug. */
  private report(error: AletheiaError, failures: number): void {
    const context = { err: error, code: error.code, failures };
    if (failures > 1) this.log.debug(context, 'wikidata refresh failed again');
    else if (error.retryable) this.log.warn(context, 'wikidata refresh failed; retrying');
    else this.log.error(context, 'wikidata refresh failed');
  }

  private async refresh(signal: AbortSignal): Promise<RefreshResult> {
    const result: RefreshResult = {
      requested: this.qids.length,
      batches: 0,
      published: 0,
      unchanged: 0,
      deadLettered: 0,
    };

    try {
      for (const batch of this.api.batches(this.qids)) {
        await this.refreshBatch(batch, result, signal);
      }
    } catch (err) {
      if (!signal.aborted) {
        const error = toAletheiaError(err, 'WIKIDATA_API_ERROR', 'refreshing Wikidata entities');
        this.lastError = error;
        sourceErrors.inc({ source: 'wikidata', code: error.code });
      }
      throw err;
    }

    this.lastError = undefined;

    return result;
  }

  private async refreshBatch(batch: Batch, result: RefreshResult, signal: AbortSignal) {
    const response = await this.api.fetch(batch, signal);
    result.batches += 1;

    if (response.kind === 'error') {
      this.log.error(
        { err: response.error, url: batch.url, ids: batch.ids.length },
        'wikidata API error',
      );
      sourceErrors.inc({ source: 'wikidata', code: response.error.code });
      const letter = deadLetter({
        stage: 'wikidata',
        error: response.error,
        bytes: response.body,
        sourceUrl: response.url,
      });
      await this.publishLetters([letter], result, signal);
      return;
    }

    const fetchedAt = Date.now();
    const letters: DeadLetter[] = [];
    const changed = new Map<string, ReducedEntity>();
    for (const qid of batch.ids) {
      const entity = response.entities[qid];
      const problem = entityProblem(qid, entity);
      if (problem) {
        const error = new AletheiaError('WIKIDATA_ENTITY_INVALID', problem, { stage: 'wikidata' });
        const bytes = Buffer.from(JSON.stringify(entity ?? null));
        const recordId = canonicalId('wikidata', qid);
        letters.push(
          deadLetter({ stage: 'wikidata', error, bytes, recordId, sourceUrl: batch.url }),
        );
        continue;
      }

      const target = (entity as { id: string }).id;
      if (target !== qid) this.log.info({ from: qid, to: target }, 'wikidata entity redirected');
      if (changed.has(target)) continue;

      recordsIn.inc({ stage: 'wikidata' });
      const prior = await this.lastDelivered(target);
      const fresh = reduceEntity({ ...entity, id: target });
      const merged = mergeEntity(prior, fresh);
      if (prior && (isStale(prior, fresh) || stableJson(prior) === stableJson(merged))) {
        result.unchanged += 1;
        recordsDropped.inc({ stage: 'wikidata', reason: 'unchanged' });
        continue;
      }

      changed.set(target, merged);
    }

    if (letters.length > 0) {
      this.log.error(
        { url: batch.url, entities: letters.length },
        'wikidata entities dead-lettered',
      );
      await this.publishLetters(letters, result, signal);
    }

    await this.publishEntities(changed, fetchedAt, signal);
    result.published += changed.size;
  }

  /** Publishes, then checkpoints: only what the bus holds safely counts as delivered. */
  private async publishEntities(
    entities: Map<string, ReducedEntity>,
    fetchedAt: number,
    signal: AbortSignal,
  ): Promise<void> {
    if (entities.size === 0) return;

    const records: OutgoingRecord[] = [...entities.values()].map((entity) => {
      const id = canonicalId('wikidata', entity.id);
      const value = codecs.raw.encode({
        id,
        source: 'wikidata',
        nativeId: entity.id,
        sourceUrl: this.api.entityPageUrl(entity.id),
        fetchedAt,
        contentType: wikidataEntityContentType,
        body: Buffer.from(stableJson(entity)),
        context: {},
      });
      return { key: id, value };
    });
    await untilAborted(this.bus.publish(topics.raw('wikidata'), records), signal);

    for (const [qid, entity] of entities) {
      await this.checkpoints.save(checkpointName(qid), entity);
      this.delivered.set(qid, entity);
      this.log.debug({ qid, lastrevid: entity.lastrevid }, 'wikidata entity published');
    }
    recordsOut.inc({ stage: 'wikidata' }, entities.size);
  }

  private async publishLetters(letters: DeadLetter[], result: RefreshResult, signal: AbortSignal) {
    await untilAborted(publishDeadLetters(this.bus, letters), signal);
    result.deadLettered += letters.length;
  }

  private async lastDelivered(qid: string): Promise<ReducedEntity | undefined> {
    if (!this.delivered.has(qid)) {
      const saved = await this.checkpoints.load<ReducedEntity | null>(checkpointName(qid), null);
      this.delivered.set(qid, saved);
    }

    return this.delivered.get(qid) ?? undefined;
  }
}

function checkpointName(qid: string): string {
  return `wikidata-${qid}`;
}

/** A response older than what was delivered: a lagging replica or cache answered. */
function isStale(prior: ReducedEntity, fresh: ReducedEntity): boolean {
  return (
    prior.lastrevid !== undefined &&
    fresh.lastrevid !== undefined &&
    fresh.lastrevid < prior.lastrevid
  );
}

/** Why an entry of the response cannot be published, or undefined when it can. */
function entityProblem(qid: string, entity: WireEntity | undefined): string | undefined {
  if (entity === undefined) return `fetching entity ${qid}: not in the response`;
  if (!isObject(entity)) return `fetching entity ${qid}: not an object`;
  if ('missing' in entity) return `fetching entity ${qid}: entity does not exist`;
  if (typeof entity.id !== 'string' || !qidPattern.test(entity.id)) {
    return `fetching entity ${qid}: expected an item id, got '${String(entity.id)}'`;
  }

  return undefined;
}

/**
 * Stops waiting when the connector stops. The publish itself may still complete later; what
 * matters is that nothing is checkpointed for it, so the next run publishes it again.
 */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  work.catch(() => {});
  if (signal.aborted) return Promise.reject(abortError(signal));

  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function abortError(signal: AbortSignal): AletheiaError {
  return toAletheiaError(
    signal.reason,
    'COMPONENT_STOPPED',
    'publishing Wikidata entities: aborted',
  );
}
