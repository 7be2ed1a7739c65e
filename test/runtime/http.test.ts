import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { AletheiaError, isAletheiaError } from '../../runtime/errors.ts';
import type { ErrorCode } from '../../runtime/errors.ts';
import { httpGet, parseRetryAfter } from '../../runtime/http.ts';
import type { HttpPolicy } from '../../runtime/http.ts';

interface Server {
  origin: string;
  /** `127.0.0.1:port`, for `allowedHosts`. */
  host: string;
  hits: string[];
}

const servers: http.Server[] = [];

async function serve(handler: http.RequestListener): Promise<Server> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url!);
    handler(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);

  const { port } = server.address() as AddressInfo;

  return { origin: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, hits };
}

function policy(overrides: Partial<HttpPolicy> = {}): HttpPolicy {
  return {
    timeoutMs: 2000,
    maxBodyBytes: 64 * 1024,
    maxRedirects: 5,
    userAgent: 'aletheia-test/1.0',
    allowPrivateNetworks: false,
    ...overrides,
  };
}

async function rejectsWith(work: Promise<unknown>, code: ErrorCode): Promise<AletheiaError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(isAletheiaError(err, code), `expected ${code}, got ${String(err)}`);

  return err;
}

// Tripwire: the SSRF tests name private addresses; if the guard ever failed, the socket layer
// would throw here instead of sending a packet to a real private network.
const contacted: string[] = [];
const realConnect = net.Socket.prototype.connect;

before(() => {
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    const first = Array.isArray(args[0]) ? args[0][0] : args[0];
    const host = (first as { host?: string } | undefined)?.host;
    if (host && host !== '127.0.0.1' && host !== 'localhost') {
      contacted.push(host);
      throw new Error(`test tripwire: refusing to connect to ${host}`);
    }

    return Reflect.apply(realConnect, this, args);
  } as typeof realConnect;
});

after(() => {
  net.Socket.prototype.connect = realConnect;
  for (const server of servers) server.closeAllConnections();
  for (const server of servers) server.close();
  assert.deepEqual(contacted, []);
});

describe('httpGet', () => {
  it('returns a 200 body with lower-cased, joined headers', async () => {
    let userAgent: string | undefined;
    const server = await serve((req, res) => {
      userAgent = req.headers['user-agent'];
      res.setHeader('X-Multi', ['a', 'b']);
      res.setHeader('Content-Type', 'application/rss+xml; charset=utf-8');
      res.end('<rss>notícias</rss>');
    });

    const res = await httpGet(
      { url: `${server.origin}/feed.xml` },
      policy({
        allowedHosts: [server.host],
      }),
    );

    assert.equal(res.status, 200);
    assert.equal(res.url, `${server.origin}/feed.xml`);
    assert.equal(res.body.toString('utf8'), '<rss>notícias</rss>');
    assert.equal(res.headers['x-multi'], 'a, b');
    assert.equal(res.headers['content-type'], 'application/rss+xml; charset=utf-8');
    assert.equal(res.notModified, false);
    assert.equal(userAgent, 'aletheia-test/1.0');
  });

  it('round-trips ETag and Last-Modified into a 304', async () => {
    const etag = '"v1"';
    const lastModified = 'Wed, 03 Dec 2025 10:00:00 GMT';
    const server = await serve((req, res) => {
      const fresh =
        req.headers['if-none-match'] === etag && req.headers['if-modified-since'] === lastModified;
      res.writeHead(fresh ? 304 : 200, { ETag: etag, 'Last-Modified': lastModified });
      res.end(fresh ? undefined : 'full body');
    });
    const p = policy({ allowedHosts: [server.host] });

    const first = await httpGet({ url: server.origin }, p);
    const second = await httpGet(
      { url: server.origin, etag: first.etag!, lastModified: first.lastModified! },
      p,
    );

    assert.equal(first.etag, etag);
    assert.equal(first.lastModified, lastModified);
    assert.equal(second.status, 304);
    assert.equal(second.notModified, true);
    assert.equal(second.body.length, 0);
    assert.equal(second.etag, etag);
  });

  it('decodes gzip and br bodies', async () => {
    const text = 'Câmara aprova projeto '.repeat(200);
    const server = await serve((req, res) => {
      const br = req.url === '/br';
      res.setHeader('Content-Encoding', br ? 'br' : 'gzip');
      res.end(br ? zlib.brotliCompressSync(text) : zlib.gzipSync(text));
    });
    const p = policy({ allowedHosts: [server.host] });

    for (const path of ['/gzip', '/br']) {
      const res = await httpGet({ url: server.origin + path }, p);
      assert.equal(res.body.toString('utf8'), text);
    }
  });

  describe('body cap', () => {
    it('refuses a Content-Length over the cap before reading', async () => {
      const server = await serve((_req, res) => res.end(Buffer.alloc(100 * 1024)));

      const err = await rejectsWith(
        httpGet(
          { url: server.origin },
          policy({
            allowedHosts: [server.host],
          }),
        ),
        'HTTP_BODY_TOO_LARGE',
      );
      assert.match(err.message, /Content-Length 102400/);
    });

    it('counts a chunked body without Content-Length', async () => {
      const server = await serve((_req, res) => {
        for (let i = 0; i < 64; i++) res.write(Buffer.alloc(16 * 1024, 'a'));
        res.end();
      });

      await rejectsWith(
        httpGet({ url: server.origin }, policy({ allowedHosts: [server.host] })),
        'HTTP_BODY_TOO_LARGE',
      );
    });

    it('caps the decoded size of a gzip bomb', async () => {
      const bomb = zlib.gzipSync(Buffer.alloc(20 * 1024 * 1024));
      assert.ok(bomb.length < 64 * 1024, 'the compressed bomb itself fits under the cap');
      const server = await serve((_req, res) => {
        res.writeHead(200, { 'Content-Encoding': 'gzip', 'Content-Length': bomb.length });
        res.end(bomb);
      });

      const err = await rejectsWith(
        httpGet(
          { url: server.origin },
          policy({
            allowedHosts: [server.host],
          }),
        ),
        'HTTP_BODY_TOO_LARGE',
      );
      assert.match(err.message, /decoded body/);
    });
  });

  describe('redirects', () => {
    it('follows them and reports the final URL', async () => {
      const server = await serve((req, res) => {
        if (req.url === '/old') res.writeHead(301, { Location: '/moved' }).end();
        else if (req.url === '/moved') res.writeHead(307, { Location: '/feed.xml' }).end();
        else res.end('final');
      });

      const res = await httpGet(
        { url: `${server.origin}/old` },
        policy({
          allowedHosts: [server.host],
        }),
      );

      assert.equal(res.url, `${server.origin}/feed.xml`);
      assert.equal(res.body.toString(), 'final');
    });

    it('fails on a loop, listing the chain', async () => {
      const server = await serve((req, res) => {
        res.writeHead(302, { Location: req.url === '/a' ? '/b' : '/a' }).end();
      });

      const err = await rejectsWith(
        httpGet(
          { url: `${server.origin}/a` },
          policy({
            allowedHosts: [server.host],
          }),
        ),
        'HTTP_REDIRECT_LIMIT',
      );
      assert.match(err.message, /\/a -> .*\/b -> .*\/a/);
    });

    it('fails past maxRedirects', async () => {
      const server = await serve((req, res) => {
        res.writeHead(302, { Location: `/hop${req.url!.length}` }).end();
      });

      await rejectsWith(
        httpGet(
          { url: `${server.origin}/` },
          policy({
            allowedHosts: [server.host],
            maxRedirects: 2,
          }),
        ),
        'HTTP_REDIRECT_LIMIT',
      );
      assert.equal(server.hits.length, 3);
    });

    it('refuses a hop to a private address before connecting', async () => {
      const server = await serve((_req, res) => {
        res.writeHead(302, { Location: 'http://10.0.0.1/internal' }).end();
      });

      const err = await rejectsWith(
        httpGet(
          { url: server.origin },
          policy({
            allowedHosts: [server.host],
          }),
        ),
        'HTTP_ADDRESS_FORBIDDEN',
      );
      assert.match(err.message, /10\.0\.0\.1/);
    });

    it('drops Authorization when the redirect leaves the origin', async () => {
      let seen: string | undefined = 'not requested';
      const target = await serve((req, res) => {
        seen = req.headers.authorization;
        res.end('ok');
      });
      const origin = await serve((_req, res) => {
        res.writeHead(302, { Location: target.origin }).end();
      });

      await httpGet(
        { url: origin.origin, headers: { Authorization: 'Bearer secret' } },
        policy({
          allowedHosts: [origin.host, target.host],
        }),
      );

      assert.equal(seen, undefined);
    });
  });

  describe('address guard', () => {
    it('refuses loopback unless allowed', async () => {
      const server = await serve((_req, res) => res.end('ok'));

      await rejectsWith(httpGet({ url: server.origin }, policy()), 'HTTP_ADDRESS_FORBIDDEN');
      await rejectsWith(
        httpGet({ url: server.origin.replace('127.0.0.1', 'localhost') }, policy()),
        'HTTP_ADDRESS_FORBIDDEN',
      );
      assert.equal(server.hits.length, 0);

      const res = await httpGet({ url: server.origin }, policy({ allowPrivateNetworks: true }));
      assert.equal(res.status, 200);
    });

    it('refuses private, link-local and IPv4-mapped literals', async () => {
      for (const url of [
        'http://169.254.169.254/latest/meta-data/',
        'http://[::ffff:10.0.0.1]/',
        'http://192.168.1.1/',
        'http://[fd00::1]/',
        'http://100.64.0.1/',
        'http://0.0.0.0/',
        // IPv4-compatible and IPv4-translated forms of loopback slipped past the IPv6 ranges.
        'http://[::127.0.0.1]/',
        'http://[::ffff:0:127.0.0.1]/',
      ]) {
        await rejectsWith(httpGet({ url }, policy()), 'HTTP_ADDRESS_FORBIDDEN');
      }
    });
  });

  describe('statuses', () => {
    it('makes 503 retryable with Retry-After', async () => {
      const server = await serve((_req, res) => {
        res.writeHead(503, { 'Retry-After': '120' }).end('busy');
      });

      const err = await rejectsWith(
        httpGet(
          { url: `${server.origin}/feed` },
          policy({
            allowedHosts: [server.host],
          }),
        ),
        'HTTP_STATUS_RETRYABLE',
      );
      assert.equal(err.retryable, true);
      assert.equal(err.retryAfterMs, 120_000);
      assert.equal(err.message, `fetching ${server.origin}/feed: status 503`);
    });

    it('makes 404 final', async () => {
      const server = await serve((_req, res) => res.writeHead(404).end());

      const err = await rejectsWith(
        httpGet(
          { url: server.origin },
          policy({
            allowedHosts: [server.host],
          }),
        ),
        'HTTP_STATUS',
      );
      assert.equal(err.retryable, false);
      assert.match(err.message, /status 404/);
    });
  });

  describe('timeouts and aborts', () => {
    it('times out on a server that never answers', async () => {
      const server = await serve(() => {});
      const started = Date.now();

      await rejectsWith(
        httpGet(
          { url: server.origin },
          policy({
            allowedHosts: [server.host],
            timeoutMs: 200,
          }),
        ),
        'HTTP_TIMEOUT',
      );
      assert.ok(Date.now() - started < 1000);
    });

    it('times out on a body that stalls half-way', async () => {
      const server = await serve((_req, res) => {
        res.writeHead(200, { 'Content-Length': 1000 });
        res.write('<rss><channel>');
      });

      await rejectsWith(
        httpGet(
          { url: server.origin },
          policy({
            allowedHosts: [server.host],
            timeoutMs: 200,
          }),
        ),
        'HTTP_TIMEOUT',
      );
    });

    it('stops when the caller aborts', async () => {
      const server = await serve(() => {});

      const err = await rejectsWith(
        httpGet(
          { url: server.origin },
          policy({
            allowedHosts: [server.host],
          }),
          AbortSignal.timeout(100),
        ),
        'COMPONENT_STOPPED',
      );
      assert.equal(err.retryable, false);
    });
  });

  describe('URL validation', () => {
    it('refuses non-HTTP schemes and credentials', async () => {
      for (const url of ['file:///etc/passwd', 'ftp://example.com/feed.xml', 'not a url']) {
        await rejectsWith(httpGet({ url }, policy()), 'HTTP_URL_INVALID');
      }

      const err = await rejectsWith(
        httpGet({ url: 'http://user:s3cret@example.com/' }, policy()),
        'HTTP_URL_INVALID',
      );
      assert.doesNotMatch(err.message, /s3cret/);
    });
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP-dates', () => {
    const now = Date.parse('Wed, 03 Dec 2025 10:00:00 GMT');

    assert.equal(parseRetryAfter('30', now), 30_000);
    assert.equal(parseRetryAfter('Wed, 03 Dec 2025 10:01:00 GMT', now), 60_000);
    assert.equal(parseRetryAfter('Wed, 03 Dec 2025 09:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });
});
