/**
 * API keys: configured as `name:secret:scope+scope`, or, when none are, one generated at first
 * start into `<dataDir>/api-key` (readable by the owner only) with every scope. Only SHA-256
 * hashes of the secrets stay in memory; a presented key is hashed and compared with each of
 * them in constant time, so neither the comparison nor the number of keys checked reveals
 * how much of a secret was right.
 *
 * Clients send the secret as `Authorization: Bearer <secret>` or `X-API-Key: <secret>`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Middleware } from 'koa';

import { AletheiaError } from '../runtime/errors.ts';
import type { Logger } from '../runtime/log.ts';

/**
 * read: lists and searches; export: bulk exports; admin: dead letters and their replay;
 * metrics: the Prometheus endpoint.
 */
export const scopes = ['read', 'export', 'admin', 'metrics'] as const;

export type Scope = (typeof scopes)[number];

export interface ApiKey {
  name: string;
  scopes: Set<Scope>;
  secretHash: Buffer;
}

/** Shortest secret accepted in the configuration: 16 characters. */
const minSecretLength = 16;

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** Parses `name:secret:scope+scope` entries; the secret may itself contain colons. */
export function parseApiKeys(entries: string[]): ApiKey[] {
  return entries.map((entry) => {
    const first = entry.indexOf(':');
    const last = entry.lastIndexOf(':');
    const name = entry.slice(0, first);
    if (first <= 0 || last === first) {
      throw new AletheiaError('CONFIG_INVALID', 'expected an API key as name:secret:scope+scope');
    }

    const secret = entry.slice(first + 1, last);
    if (secret.length < minSecretLength) {
      throw new AletheiaError(
        'CONFIG_INVALID',
        `API key ${name}: the secret must have at least ${minSecretLength} characters`,
      );
    }

    const keyScopes = entry.slice(last + 1).split('+');
    for (const scope of keyScopes) {
      if (!(scopes as readonly string[]).includes(scope)) {
        throw new AletheiaError(
          'CONFIG_INVALID',
          `API key ${name}: unknown scope '${scope}' (known: ${scopes.join(', ')})`,
        );
      }
    }

    return { name, scopes: new Set(keyScopes as Scope[]), secretHash: sha256(secret) };
  });
}

/**
 * The key in `<dataDir>/api-key`, created with every scope when missing. Its path is logged,
 * never the key.
 */
export function generatedApiKey(dataDir: string, log: Logger): ApiKey {
  const path = join(dataDir, 'api-key');
  let secret: string;
  try {
    secret = readFileSync(path, 'utf8').trim();
    log.info({ path }, 'no API keys configured; using the generated key in this file');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new AletheiaError('CONFIG_INVALID', `reading the API key file ${path}`, { cause: err });
    }
    secret = randomBytes(32).toString('base64url');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    log.info({ path }, 'no API keys configured; generated one into this file');
  }

  if (secret.length < minSecretLength) {
    throw new AletheiaError('CONFIG_INVALID', `the API key in ${path} is too short`);
  }

  return { name: 'generated', scopes: new Set(scopes), secretHash: sha256(secret) };
}

function presentedSecret(headers: Record<string, string | string[] | undefined>): string | null {
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);

    return match ? match[1]! : null;
  }
  const apiKey = headers['x-api-key'];

  return typeof apiKey === 'string' && apiKey.length > 0 ? apiKey.trim() : null;
}

/** The key a request presents, after comparing it with every configured key. */
export function authenticate(
  keys: ApiKey[],
  headers: Record<string, string | string[] | undefined>,
): ApiKey {
  const secret = presentedSecret(headers);
  if (secret === null) {
    throw new AletheiaError(
      'API_UNAUTHENTICATED',
      'an API key is required: send it as Authorization: Bearer <key> or X-API-Key',
    );
  }

  const hash = sha256(secret);
  let found: ApiKey | undefined;
  for (const key of keys) {
    // Every key is compared, also after a match, so timing does not depend on which matched.
    if (timingSafeEqual(hash, key.secretHash) && found === undefined) found = key;
  }
  if (!found) throw new AletheiaError('API_UNAUTHENTICATED', 'the API key is not valid');

  return found;
}

/** Lets the request through when its key has the scope; records the key's name for logs. */
export function requireScope(keys: ApiKey[], scope: Scope): Middleware {
  return async (ctx, next) => {
    const key = authenticate(keys, ctx.headers);
    ctx.state.client = key.name;
    if (!key.scopes.has(scope)) {
      throw new AletheiaError(
        'API_FORBIDDEN',
        `the API key ${key.name} lacks the scope '${scope}'`,
      );
    }

    await next();
  };
}
