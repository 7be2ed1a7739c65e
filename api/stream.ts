/**
 * Streams an export to the client with constant memory: the store's byte chunks are piped to
 * the response through a byte stream with a small high-water mark, so the next chunk is only
 * fetched once the client has taken the previous ones. The first chunk is awaited before any
 * header is sent, so a query that fails at once still gets a proper error response; a
 * failure later can only cut the response short. A client that goes away ends the query.
 */
import { Readable } from 'node:stream';

import type { Context } from 'koa';

/** Bytes buffered for a slow client before the store is asked for more. */
const highWaterMarkBytes = 64 * 1024;

const contentTypes = {
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
} as const;

export async function sendExport(
  ctx: Context,
  fileName: string,
  format: 'csv' | 'ndjson',
  chunks: AsyncIterable<Uint8Array>,
): Promise<void> {
  const iterator = chunks[Symbol.asyncIterator]();
  const progress = { exhausted: false };
  // Koa destroys the body stream when the response closes, which ends the generator below;
  // this also covers a client gone before the stream was first read.
  ctx.res.once('close', () => {
    if (!progress.exhausted) ctx.state.aborted = true;
    void iterator.return?.().catch(() => {});
  });

  const first = await iterator.next();

  ctx.status = 200;
  ctx.attachment(`${fileName}.${format}`);
  ctx.type = contentTypes[format];
  ctx.set('Cache-Control', 'no-store');
  ctx.body = Readable.from(rest(first, iterator, progress), {
    objectMode: false,
    highWaterMark: highWaterMarkBytes,
  });
}

async function* rest(
  first: IteratorResult<Uint8Array>,
  iterator: AsyncIterator<Uint8Array>,
  progress: { exhausted: boolean },
): AsyncGenerator<Uint8Array> {
  try {
    let next = first;
    while (!next.done) {
      yield next.value;
      next = await iterator.next();
    }
    progress.exhausted = true;
  } finally {
    await iterator.return?.();
  }
}
