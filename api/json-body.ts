/**
 * Reads a JSON request body with a size cap. Koa parses no bodies itself, and the few
 * endpoints that take one need nothing more than this.
 */
import type { Context } from 'koa';

import { AletheiaError } from '../runtime/errors.ts';

export async function readJsonBody(ctx: Context, maxBytes: number): Promise<unknown> {
  if (!ctx.is('application/json')) {
    throw new AletheiaError('API_BAD_REQUEST', 'expected a body of type application/json');
  }

  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      throw new AletheiaError('API_BAD_REQUEST', `body larger than ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }

  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new AletheiaError('API_BAD_REQUEST', `body is not valid JSON: ${(err as Error).message}`);
  }
}
