/**
 * Whether one feed is failing, since when, and whether its failure has been reported, so that
 * an outage is logged (and dead-lettered) once rather than on every retry.
 */
import type { AletheiaError } from '../../runtime/errors.ts';

export interface Outage {
  code: string;
  failures: number;
  failedForMs: number;
}

export class FeedStatus {
  /** Consecutive failed polls, for the backoff. */
  failures = 0;
  error: AletheiaError | undefined;
  private failingSince: number | undefined;
  private reported: string | undefined;

  /**
   * Counts a failure. True when it is news: the first of an outage, or a source fault with a
   * different code than the one reported. A run of network failures and 5xx, whatever their
   * codes, is one outage.
   */
  fail(error: AletheiaError, now = Date.now()): boolean {
    const kind = error.retryable ? 'unreachable' : error.code;
    const news = kind !== this.reported;
    this.failures += 1;
    this.failingSince ??= now;
    this.error = error;
    this.reported = kind;

    return news;
  }

  /** Clears the failure; returns the outage that just ended, if there was one. */
  recover(now = Date.now()): Outage | undefined {
    const { error, failures, failingSince } = this;
    this.failures = 0;
    this.error = undefined;
    this.failingSince = undefined;
    this.reported = undefined;

    return error && { code: error.code, failures, failedForMs: now - (failingSince ?? now) };
  }
}
