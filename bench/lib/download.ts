/**
 * The export benchmark's client: downloads one export over HTTP and only counts what comes,
 * bytes and line breaks, so it costs the server as little as a fast client would.
 */
import { request } from 'node:http';

export interface Download {
  status: number;
  bytes: number;
  lines: number;
  elapsedMs: number;
}

export function download(url: string, apiKey: string): Promise<Download> {
  const started = performance.now();

  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: `Bearer ${apiKey}` } }, (res) => {
      let bytes = 0;
      let lines = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines += 1;
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          bytes,
          lines,
          elapsedMs: performance.now() - started,
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
