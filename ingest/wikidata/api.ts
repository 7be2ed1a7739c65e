/**
 * The MediaWiki Action API as the Wikidata connector uses it: `wbgetentities` URLs built by
 * wikibase-sdk for batches of at most 50 ids, fetched with the project's HTTP client, with
 * maxlag and overload answered by waiting and trying again.
 *
 * Wikidata refuses a request while database replication lags more than `maxlag` seconds,
 * usually with HTTP 200 and `{"error":{"code":"maxlag",...}}` plus a Retry-After header, at
 * times with a 503. Both are retried; any other API error is handed back with the body so the
 * caller can dead-letter it.
 */
import { WBK, type EntityId, type Props } from 'wikibase-sdk';

import { AletheiaError, toAletheiaError } from '../../runtime/errors.ts';
import { httpGet, parseRetryAfter, type HttpPolicy } from '../../runtime/http.ts';
import { backoffMs, sleep } from '../../runtime/lifecycle.ts';
import type { Logger } from '../../runtime/log.ts';
import { isObject, workingLanguages, type WireEntity } from './entity.ts';

/** The API's own limit of ids in one wbgetentities request for anonymous clients. */
export const maxIdsPerRequest = 50;

const props: Props[] = ['info', 'labels', 'descriptions', 'aliases', 'claims', 'sitelinks/urls'];

export interface ApiOptions {
  apiUrl: string;
  maxlagSeconds: number;
  http: HttpPolicy;
  /** Attempts after the first before a batch fails. */
  maxRetries: number;
  /** First backoff step when the server names no wait. */
  retryBaseMs: number;
  /** Longest wait between two attempts, whatever Retry-After asks. */
  maxRetryAfterMs: number;
  log: Logger;
}

export interface Batch {
  url: string;
  ids: string[];
}

export type BatchResponse =
  | { kind: 'entities'; url: string; body: Buffer; entities: Record<string, WireEntity> }
  | { kind: 'error'; url: string; body: Buffer; error: AletheiaError };

export class WikidataApi {
  /** Instance root (`https://www.wikidata.org`), for entity page URLs. */
  readonly root: string;
  private readonly options: ApiOptions;
  private readonly wbk: ReturnType<typeof WBK>;

  constructor(options: ApiOptions) {
    this.options = options;
    const { origin, scriptPath } = splitApiUrl(options.apiUrl);
    this.wbk = WBK({ instance: origin, wgScriptPath: scriptPath });
    this.root = this.wbk.instance.root;
  }

  entityPageUrl(qid: string): string {
    return `${this.root}/wiki/${qid}`;
  }

  batches(qids: readonly string[]): Batch[] {
    const batches: Batch[] = [];
    for (let start = 0; start < qids.length; start += maxIdsPerRequest) {
      const ids = qids.slice(start, start + maxIdsPerRequest);
      const url = this.wbk.getEntities({
        ids: ids as EntityId[],
        languages: [...workingLanguages],
        props,
        format: 'json',
      });
      batches.push({ url: `${url}&maxlag=${this.options.maxlagSeconds}`, ids });
    }

    return batches;
  }

  /**
   * Fetches one batch, retrying maxlag, 429, 5xx and network failures. Throws the last
   * retryable error once retries run out (WIKIDATA_MAXLAG when the server was lagging), and
   * any error that retrying cannot cure; returns API errors for the caller to dead-letter.
   */
  async fetch(batch: Batch, signal?: AbortSignal): Promise<BatchResponse> {
    const { maxRetries, retryBaseMs, maxRetryAfterMs, log } = this.options;

    for (let attempt = 1; ; attempt += 1) {
      let failure: AletheiaError;
      try {
        const res = await httpGet(
          { url: batch.url, accept: 'application/json' },
          this.options.http,
          signal,
        );
        const answer = this.read(batch.url, res.body, res.headers['retry-after']);
        if (!(answer instanceof AletheiaError)) return answer;
        failure = answer;
      } catch (err) {
        failure = toAletheiaError(err, 'HTTP_NETWORK', `fetching ${batch.url}`);
        if (!failure.retryable) throw failure;
      }

      if (signal?.aborted) throw stopped(batch.url, signal);
      if (attempt > maxRetries) throw failure;

      const waitMs = Math.min(
        failure.retryAfterMs ?? backoffMs(attempt, retryBaseMs, maxRetryAfterMs),
        maxRetryAfterMs,
      );
      log.debug(
        { url: batch.url, code: failure.code, attempt, waitMs },
        'wikidata request retried',
      );
      await sleep(waitMs, signal);
      if (signal?.aborted) throw stopped(batch.url, signal);
    }
  }

  /** The entities of a response, a retryable maxlag error, or an API error to dead-letter. */
  private read(
    url: string,
    body: Buffer,
    retryAfter: string | undefined,
  ): BatchResponse | AletheiaError {
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (err) {
      const error = new AletheiaError(
        'WIKIDATA_API_ERROR',
        `fetching ${url}: response is not JSON`,
        {
          cause: err,
        },
      );
      return { kind: 'error', url, body, error };
    }

    const apiError = isObject(json) && isObject(json.error) ? json.error : undefined;
    if (apiError?.code === 'maxlag') {
      const lag = typeof apiError.lag === 'number' ? `${apiError.lag} s` : 'unknown';
      const reason = `replication lag ${lag} over maxlag ${this.options.maxlagSeconds} s`;
      return new AletheiaError('WIKIDATA_MAXLAG', `fetching ${url}: ${reason}`, {
        retryAfterMs: parseRetryAfter(retryAfter),
      });
    }

    if (apiError) {
      const code = typeof apiError.code === 'string' ? apiError.code : 'unknown';
      const info = typeof apiError.info === 'string' ? `: ${apiError.info}` : '';
      const error = new AletheiaError(
        'WIKIDATA_API_ERROR',
        `fetching ${url}: API error ${code}${info}`,
      );
      return { kind: 'error', url, body, error };
    }

    if (!isObject(json) || !isObject(json.entities)) {
      const error = new AletheiaError(
        'WIKIDATA_API_ERROR',
        `fetching ${url}: response has no entities`,
      );
      return { kind: 'error', url, body, error };
    }

    return { kind: 'entities', url, body, entities: json.entities as Record<string, WireEntity> };
  }
}

/** Origin and script path of `https://host/w/api.php`, as wikibase-sdk wants them. */
function splitApiUrl(apiUrl: string): { origin: string; scriptPath: string } {
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch (err) {
    throw new AletheiaError('CONFIG_INVALID', `Wikidata API URL ${apiUrl} is not a URL`, {
      cause: err,
    });
  }

  const match = /^(\/.+)\/api\.php$/.exec(url.pathname);
  if (!match || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    const reason =
      'expected an http(s) MediaWiki API URL such as https://www.wikidata.org/w/api.php';
    throw new AletheiaError('CONFIG_INVALID', `Wikidata API URL ${apiUrl}: ${reason}`);
  }

  return { origin: url.origin, scriptPath: match[1]! };
}

function stopped(url: string, signal: AbortSignal): AletheiaError {
  return toAletheiaError(signal.reason, 'COMPONENT_STOPPED', `fetching ${url}: aborted`);
}
