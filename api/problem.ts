/**
 * The one place errors become responses: every failure is answered as
 * `application/problem+json` (RFC 9457) with `{ type, title, status, detail, code }`. An
 * AletheiaError keeps its code and status; anything else is a 500. Server errors hide their
 * message from the client and are logged at error; client errors are logged at info.
 *
 * Also writes the one log line per request, when the response is over (an export streams
 * long after its handler returned): method, route pattern, status and duration. Never the
 * query string, which may hold search text, nor any header.
 */
import { STATUS_CODES } from 'node:http';

import type { Context, Middleware } from 'koa';

import { AletheiaError, type ErrorCode } from '../runtime/errors.ts';
import type { Logger } from '../runtime/log.ts';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
}

export function problemOf(err: unknown): Problem {
  const error = asAletheiaError(err);
  const status = error.status;
  const detail =
    status === 503
      ? 'the service is temporarily unavailable; try again later'
      : status >= 500
        ? 'internal error'
        : error.message;

  return {
    type: `urn:aletheia:problem:${error.code.toLowerCase().replaceAll('_', '-')}`,
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    code: error.code,
  };
}

/** Koa's own client errors (a malformed URL, ...) keep their status; the rest become 500s. */
function asAletheiaError(err: unknown): AletheiaError {
  if (err instanceof AletheiaError) return err;

  const { status, expose, message } = (err ?? {}) as {
    status?: unknown;
    expose?: unknown;
    message?: unknown;
  };
  if (typeof status === 'number' && status >= 400 && status < 500 && expose === true) {
    const code = status === 404 ? 'API_NOT_FOUND' : 'API_BAD_REQUEST';

    return new AletheiaError(code, String(message), { cause: err });
  }

  return new AletheiaError('API_INTERNAL', 'unexpected failure', { cause: err });
}

export function errorMiddleware(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body == null) {
        throw new AletheiaError('API_NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      const problem = problemOf(err);
      const context = {
        method: ctx.method,
        route: routeOf(ctx),
        status: problem.status,
        code: problem.code,
      };
      if (problem.status >= 500) log.error({ ...context, err }, 'request failed');
      else log.info({ ...context, detail: problem.detail }, 'request refused');

      ctx.status = problem.status;
      ctx.type = 'application/problem+json';
      ctx.body = JSON.stringify(problem);
      if (problem.code === 'API_UNAUTHENTICATED')
        ctx.set('WWW-Authenticate', 'Bearer realm="aletheia"');
    }
  };
}

export function requestLogMiddleware(log: Logger): Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    const durationMs = (): number => Math.round(performance.now() - started);
    // Logged on the next turn, once the other close listeners (an export's) had their say.
    ctx.res.once('close', () => {
      const finished = ctx.res.writableFinished;
      const elapsedMs = durationMs();
      setImmediate(() => {
        const aborted = ctx.state.aborted === true || !finished;
        const line = {
          method: ctx.method,
          route: routeOf(ctx),
          status: ctx.res.statusCode,
          durationMs: elapsedMs,
          ...(aborted ? { aborted } : {}),
          ...(ctx.state.client ? { client: ctx.state.client as string } : {}),
        };
        log.info(line, 'request');
      });
    });

    await next();
  };
}

/** The route pattern (`/v1/entities/:qid`), never the path with its values. */
function routeOf(ctx: Context): string {
  const route = ctx.state.route as unknown;

  return typeof route === 'string' ? route : '(no route)';
}
