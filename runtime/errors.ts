/**
 * The closed list of error codes the system raises. Every failure a component reports is an
 * `AletheiaError` with one of these codes, so logs, dead letters and API responses can be
 * matched by machines without parsing messages.
 */

export interface ErrorSpec {
  /** Whether trying the same operation again later may succeed. */
  retryable: boolean;
  /** HTTP status the API answers with when this error reaches a client. */
  status: number;
}

export const errorCodes = {
  // configuration and lifecycle
  CONFIG_INVALID: { retryable: false, status: 500 },
  COMPONENT_STOPPED: { retryable: false, status: 503 },

  // outbound HTTP
  HTTP_URL_INVALID: { retryable: false, status: 400 },
  HTTP_ADDRESS_FORBIDDEN: { retryable: false, status: 400 },
  HTTP_TIMEOUT: { retryable: true, status: 504 },
  HTTP_NETWORK: { retryable: true, status: 502 },
  HTTP_STATUS: { retryable: false, status: 502 },
  HTTP_STATUS_RETRYABLE: { retryable: true, status: 502 },
  HTTP_BODY_TOO_LARGE: { retryable: false, status: 413 },
  HTTP_REDIRECT_LIMIT: { retryable: false, status: 508 },
  HTTP_CHARSET_UNSUPPORTED: { retryable: false, status: 415 },

  // sources
  FEED_MALFORMED: { retryable: false, status: 422 },
  FEED_NOT_A_FEED: { retryable: false, status: 422 },
  WIKIDATA_API_ERROR: { retryable: false, status: 502 },
  WIKIDATA_MAXLAG: { retryable: true, status: 503 },
  WIKIDATA_ENTITY_INVALID: { retryable: false, status: 422 },

  // records
  RECORD_DECODE_FAILED: { retryable: false, status: 422 },
  RECORD_SCHEMA_INVALID: { retryable: false, status: 422 },
  RECORD_UNSUPPORTED: { retryable: false, status: 422 },

  // bus and schema registry
  BUS_UNAVAILABLE: { retryable: true, status: 503 },
  SCHEMA_INCOMPATIBLE: { retryable: false, status: 500 },
  SCHEMA_REGISTRY_UNAVAILABLE: { retryable: true, status: 503 },

  // analytics store
  STORE_UNAVAILABLE: { retryable: true, status: 503 },
  STORE_QUERY_FAILED: { retryable: true, status: 500 },
  STORE_MIGRATION_FAILED: { retryable: false, status: 500 },

  // API
  API_BAD_REQUEST: { retryable: false, status: 400 },
  API_UNAUTHENTICATED: { retryable: false, status: 401 },
  API_FORBIDDEN: { retryable: false, status: 403 },
  API_NOT_FOUND: { retryable: false, status: 404 },
  API_INTERNAL: { retryable: false, status: 500 },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof errorCodes;

export interface ErrorDetails {
  cause?: unknown;
  /** Pipeline stage that raised the error (`rss`, `normalise`, `sink.clickhouse`, ...). */
  stage?: string;
  /** Canonical or native id of the record being handled. */
  recordId?: string;
  /** Overrides the code's default when the caller knows better (a 429 with Retry-After). */
  retryable?: boolean;
  /** Milliseconds the remote side asked us to wait before trying again. */
  retryAfterMs?: number;
}

export class AletheiaError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly status: number;
  readonly stage: string | undefined;
  readonly recordId: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'AletheiaError';
    this.code = code;
    this.retryable = details.retryable ?? errorCodes[code].retryable;
    this.status = errorCodes[code].status;
    this.stage = details.stage;
    this.recordId = details.recordId;
    this.retryAfterMs = details.retryAfterMs;
  }
}

export function isAletheiaError(err: unknown, code?: ErrorCode): err is AletheiaError {
  return err instanceof AletheiaError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into an `AletheiaError`, keeping an existing code. */
export function toAletheiaError(
  err: unknown,
  fallback: ErrorCode,
  message: string,
  details: ErrorDetails = {},
): AletheiaError {
  if (err instanceof AletheiaError) return err;
  const reason = err instanceof Error ? err.message : String(err);

  return new AletheiaError(fallback, `${message}: ${reason}`, { ...details, cause: err });
}
