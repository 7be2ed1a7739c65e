/**
 * Serves the bundled sample feeds and Wikidata entities over HTTP on loopback, so demo mode
 * runs the real connectors (conditional GET, charset detection, wbgetentities batching)
 * without reaching the network. The Wikidata endpoint answers `action=wbgetentities` in the
 * MediaWiki API's own response shape; feeds carry ETags so polling is conditional.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

const feeds: Record<string, { file: string; contentType: string }> = {
  '/feeds/politica.xml': {
    file: 'feeds/politica.xml',
    contentType: 'application/rss+xml; charset=ISO-8859-1',
  },
  '/feeds/mundo.atom': { file: 'feeds/mundo.atom', contentType: 'application/atom+xml' },
};

export interface SampleSources {
  feedUrls: string[];
  wikidataApiUrl: string;
  trackedEntities: string[];
  /** host:port of the server, to allow it past the private-address guard. */
  host: string;
  close(): Promise<void>;
}

export async function startSampleSources(port = 0): Promise<SampleSources> {
  const entities = JSON.parse(read('wikidata/entities.json')).entities as Record<string, unknown>;
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const feed = feeds[url.pathname];

    if (feed) {
      const body = readFileSync(new URL(feed.file, import.meta.url));
      const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
      if (request.headers['if-none-match'] === etag) return response.writeHead(304).end();

      return response.writeHead(200, { 'content-type': feed.contentType, etag }).end(body);
    }

    if (url.pathname === '/w/api.php' && url.searchParams.get('action') === 'wbgetentities') {
      const ids = (url.searchParams.get('ids') ?? '').split('|');
      const found = Object.fromEntries(ids.map((id) => [id, entities[id] ?? { id, missing: '' }]));

      return response
        .writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
        .end(JSON.stringify({ entities: found, success: 1 }));
    }

    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });

  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    feedUrls: Object.keys(feeds).map((path) => `http://${host}${path}`),
    wikidataApiUrl: `http://${host}/w/api.php`,
    trackedEntities: Object.keys(entities),
    host,
    close: () => close(server),
  };
}

function read(file: string): string {
  return readFileSync(new URL(file, import.meta.url), 'utf8');
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();

  return new Promise((resolve) => server.close(() => resolve()));
}
