/**
 * The project's outbound HTTP client: GET over node:http / node:https for the ingest connectors.
 *
 * It resolves every host itself and connects only to addresses it has vetted (no loopback,
 * private, link-local or similar ranges unless the policy allows them), re-checking on every
 * redirect hop. Bodies are capped both as received and after gzip/deflate/br decoding.
 *
 * Known limits: GET only; no proxy support; no connection reuse (each request gets its own
 * agent so a socket vetted under one policy is never reused under another); the whole body
 * is buffered in memory (bounded by `maxBodyBytes`); `deflate` must be zlib-wrapped, raw
 * deflate streams are rejected as a network error.
 */

import { BlockList, isIP } from 'node:net';
import type { LookupFunction } from 'node:net';
import { lookup } from 'node:dns/promises';
import type { LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { AletheiaError, toAletheiaError } from './errors.ts';

export interface HttpPolicy {
  /** Whole request: every redirect hop, headers and body. */
  timeoutMs: number;
  /** Cap on the body as received and after decoding; over it -> HTTP_BODY_TOO_LARGE. */
  maxBodyBytes: number;
  /** Redirects followed before HTTP_REDIRECT_LIMIT. */
  maxRedirects: number;
  userAgent: string;
  /** Lets requests reach loopback and private ranges. */
  allowPrivateNetworks: boolean;
  /** `host` (any port) or `host:port` always allowed, even when private. */
  allowedHosts?: readonly string[];
}

export interface HttpRequest {
  url: string;
  headers?: Record<string, string>;
  etag?: string;
  lastModified?: string;
  accept?: string;
}

export interface HttpResponse {
  /** Final URL after redirects. */
  url: string;
  status: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  notModified: boolean;
  etag?: string;
  lastModified?: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
// Sent by the caller for one origin; a redirect to another origin must not carry them.
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

const FORBIDDEN_IPV4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '224.0.0.0/4',
  '240.0.0.0/4',
];
const FORBIDDEN_IPV6 = [
  '::/128',
  '::1/128',
  'fc00::/7',
  'fe80::/10',
  'ff00::/8',
  // NAT64 and 6to4 embed an IPv4 address that the IPv4 ranges would not see.
  '64:ff9b::/96',
  '2002::/16',
];

// BlockList also matches IPv4-mapped IPv6 (::ffff:10.0.0.1) against the IPv4 ranges.
const forbidden = new BlockList();
for (const range of FORBIDDEN_IPV4) addRange(range, 'ipv4');
for (const range of FORBIDDEN_IPV6) addRange(range, 'ipv6');

function addRange(range: string, family: 'ipv4' | 'ipv6'): void {
  const [network, prefix] = range.split('/');
  forbidden.addSubnet(network!, Number(prefix), family);
}

export async function httpGet(
  req: HttpRequest,
  policy: HttpPolicy,
  signal?: AbortSignal,
): Promise<HttpResponse> {
  const chain = [checkUrl(req.url).href];
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), policy.timeoutMs);
  const both = signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;

  try {
    for (;;) {
      const url = chain.at(-1)!;
      const res = await send(url, requestHeaders(req, policy, chain), policy, both);
      const location = REDIRECTS.has(res.statusCode!) ? res.headers.location : undefined;
      if (location === undefined) return await finish(req, url, res, policy, both);

      res.destroy();
      chain.push(nextHop(chain, location, policy.maxRedirects));
    }
  } catch (err) {
    throw failure(err, chain.at(-1)!, policy, deadline.signal, signal);
  } finally {
    clearTimeout(timer);
  }
}

/** Retry-After as delay-seconds or an HTTP-date, in milliseconds from `now`. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;

  const at = Date.parse(text);

  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function checkUrl(raw: string, base?: string): URL {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch (err) {
    throw new AletheiaError('HTTP_URL_INVALID', `fetching ${raw}: not a valid URL`, { cause: err });
  }

  let problem: string | undefined;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    problem = `scheme ${url.protocol} not allowed`;
  } else if (url.username || url.password) {
    problem = 'credentials in the URL are not allowed';
  }

  if (problem) {
    // The message ends up in logs and dead letters: never echo a password there.
    url.username = '';
    url.password = '';
    throw new AletheiaError('HTTP_URL_INVALID', `fetching ${url.href}: ${problem}`);
  }

  return url;
}

function nextHop(chain: readonly string[], location: string, maxRedirects: number): string {
  const next = checkUrl(location, chain.at(-1)).href;
  const trail = [...chain, next].join(' -> ');
  if (chain.includes(next)) {
    throw new AletheiaError('HTTP_REDIRECT_LIMIT', `fetching ${chain[0]}: redirect loop ${trail}`);
  }

  if (chain.length > maxRedirects) {
    const reason = `more than ${maxRedirects} redirects ${trail}`;
    throw new AletheiaError('HTTP_REDIRECT_LIMIT', `fetching ${chain[0]}: ${reason}`);
  }

  return next;
}

function requestHeaders(
  req: HttpRequest,
  policy: HttpPolicy,
  chain: readonly string[],
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers ?? {})) {
    headers[name.toLowerCase()] = value;
  }

  const sameOrigin = new URL(chain[0]!).origin === new URL(chain.at(-1)!).origin;
  if (!sameOrigin) for (const name of CREDENTIAL_HEADERS) delete headers[name];

  headers['user-agent'] = policy.userAgent;
  headers['accept'] = req.accept ?? headers['accept'] ?? '*/*';
  headers['accept-encoding'] ??= 'gzip, deflate, br';
  if (req.etag) headers['if-none-match'] = req.etag;
  if (req.lastModified) headers['if-modified-since'] = req.lastModified;

  return headers;
}

async function send(
  href: string,
  headers: Record<string, string>,
  policy: HttpPolicy,
  signal: AbortSignal,
): Promise<IncomingMessage> {
  const url = new URL(href);
  const addresses = await vetHost(url, policy, signal);
  const client = url.protocol === 'https:' ? https : http;

  return new Promise((resolve, reject) => {
    const options = { headers, signal, agent: false, lookup: pinnedLookup(addresses) } as const;
    client.get(url, options, resolve).on('error', reject);
  });
}

/** Resolves the host and refuses forbidden addresses, returning the ones to connect to. */
async function vetHost(url: URL, policy: HttpPolicy, signal: AbortSignal) {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = await abortable(lookup(host, { all: true }), signal);
  const allowed = policy.allowPrivateNetworks || isAllowedHost(url, policy.allowedHosts ?? []);
  const bad = allowed ? undefined : addresses.find((a) => isForbidden(a));
  if (bad) {
    const reason = isIP(host)
      ? `address ${host} is forbidden`
      : `${host} resolves to forbidden address ${bad.address}`;
    throw new AletheiaError('HTTP_ADDRESS_FORBIDDEN', `fetching ${url.href}: ${reason}`);
  }

  return addresses;
}

function isAllowedHost(url: URL, allowedHosts: readonly string[]): boolean {
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');

  return allowedHosts.some((entry) => {
    const wanted = entry.toLowerCase();
    return wanted === url.hostname || wanted === `${url.hostname}:${port}`;
  });
}

function isForbidden({ address, family }: LookupAddress): boolean {
  if (family !== 6) return forbidden.check(address, 'ipv4');

  const embedded = embeddedIpv4(address);

  return (
    forbidden.check(address, 'ipv6') || (embedded !== null && forbidden.check(embedded, 'ipv4'))
  );
}

/**
 * The IPv4 address inside the deprecated IPv4-compatible (::127.0.0.1) and the IPv4-translated
 * (::ffff:0:127.0.0.1) forms, which BlockList does not relate to the IPv4 ranges.
 */
function embeddedIpv4(address: string): string | null {
  const match = /^::(?:ffff:0:)?(?:(\d+\.\d+\.\d+\.\d+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/i.exec(
    address,
  );
  if (!match) return null;
  if (match[1]) return match[1];

  const high = parseInt(match[2]!, 16);
  const low = parseInt(match[3]!, 16);

  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/** Hands the socket the addresses already vetted, so a second DNS answer cannot differ. */
function pinnedLookup(addresses: LookupAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const wanted = addresses.filter((a) => !options.family || a.family === options.family);
    if (options.all) return callback(null, wanted);
    if (wanted[0]) return callback(null, wanted[0].address, wanted[0].family);

    const err = Object.assign(new Error('no vetted address of that family'), { code: 'ENOTFOUND' });
    callback(err, '');
  };
}

function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();

  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

async function finish(
  req: HttpRequest,
  url: string,
  res: IncomingMessage,
  policy: HttpPolicy,
  signal: AbortSignal,
): Promise<HttpResponse> {
  const status = res.statusCode!;
  const headers = flatHeaders(res);
  if (status === 304) {
    res.destroy();
    const etag = headers['etag'] ?? req.etag;
    const lastModified = headers['last-modified'] ?? req.lastModified;
    return { url, status, headers, body: Buffer.alloc(0), notModified: true, etag, lastModified };
  }

  if (status < 200 || status > 299) {
    res.destroy();
    throw statusError(url, status, headers['retry-after']);
  }

  // Destroying also frees the socket when reading stops early (cap hit, unknown encoding).
  const body = await readBody(url, res, headers, policy.maxBodyBytes, signal).finally(() =>
    res.destroy(),
  );

  return {
    url,
    status,
    headers,
    body,
    notModified: false,
    etag: headers['etag'],
    lastModified: headers['last-modified'],
  };
}

function flatHeaders(res: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(res.headersDistinct)) {
    if (values) headers[name] = values.join(', ');
  }

  return headers;
}

function statusError(url: string, status: number, retryAfter: string | undefined) {
  const message = `fetching ${url}: status ${status}`;
  if (status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(retryAfter);
    return new AletheiaError('HTTP_STATUS_RETRYABLE', message, { retryAfterMs });
  }

  return new AletheiaError('HTTP_STATUS', message);
}

async function readBody(
  url: string,
  res: IncomingMessage,
  headers: Record<string, string>,
  maxBytes: number,
  signal: AbortSignal,
): Promise<Buffer> {
  const tooLarge = (what: string) =>
    new AletheiaError('HTTP_BODY_TOO_LARGE', `fetching ${url}: ${what} over ${maxBytes} bytes`);
  const declared = Number(headers['content-length']);
  if (declared > maxBytes) throw tooLarge(`Content-Length ${declared}`);

  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  const decoders = contentDecoders(url, headers['content-encoding']);
  await pipeline(
    res,
    cap(maxBytes, () => tooLarge('body')),
    ...decoders,
    cap(maxBytes, () => tooLarge('decoded body')),
    sink,
    { signal },
  );

  return Buffer.concat(chunks);
}

/** Passes bytes through until more than `maxBytes` went by, then fails the pipeline. */
function cap(maxBytes: number, tooLarge: () => Error): Transform {
  let seen = 0;

  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(seen > maxBytes ? tooLarge() : null, chunk);
    },
  });
}

/** Decoders for a Content-Encoding list, in the order they must run (last applied first). */
function contentDecoders(url: string, encoding: string | undefined) {
  const names = (encoding ?? '')
    .toLowerCase()
    .split(',')
    .map((s) => s.trim());

  return names
    .filter((name) => name && name !== 'identity')
    .reverse()
    .map((name) => {
      if (name === 'gzip' || name === 'x-gzip') return zlib.createGunzip();
      if (name === 'deflate') return zlib.createInflate();
      if (name === 'br') return zlib.createBrotliDecompress();

      const reason = `unsupported Content-Encoding ${name}`;
      throw new AletheiaError('HTTP_NETWORK', `fetching ${url}: ${reason}`, { retryable: false });
    });
}

/** Maps anything thrown while fetching to the error code callers act on. */
function failure(
  err: unknown,
  url: string,
  policy: HttpPolicy,
  deadline: AbortSignal,
  external: AbortSignal | undefined,
): AletheiaError {
  if (err instanceof AletheiaError) return err;
  if (external?.aborted) {
    return toAletheiaError(external.reason, 'COMPONENT_STOPPED', `fetching ${url}: aborted`);
  }

  if (deadline.aborted) {
    const message = `fetching ${url}: timed out after ${policy.timeoutMs} ms`;
    return new AletheiaError('HTTP_TIMEOUT', message, { cause: err });
  }

  return toAletheiaError(err, 'HTTP_NETWORK', `fetching ${url}`);
}
