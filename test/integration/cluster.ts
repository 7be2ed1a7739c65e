/**
 * Runs the system as an operator would scale it out: each stage in its own `node main.ts`
 * process on Kafka, with the same configuration and a data directory of its own. Lets tests
 * start, kill and stop those processes and read what the API serves.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const root = new URL('../../', import.meta.url).pathname;

export interface StageProcess {
  name: string;
  child: ChildProcess;
  /** Every log line the process wrote, parsed. */
  lines: Record<string, unknown>[];
  /** Resolves with the API address once the process logged that it runs. */
  running: Promise<string | undefined>;
  exited: Promise<number | null>;
}

export class Cluster {
  readonly processes: StageProcess[] = [];
  private readonly dirs: string[] = [];
  private readonly env: Record<string, string>;

  constructor(env: Record<string, string>) {
    this.env = env;
  }

  async start(
    name: string,
    roles: string,
    extra: Record<string, string> = {},
  ): Promise<StageProcess> {
    const dataDir = await mkdtemp(join(tmpdir(), `aletheia-${name}-`));
    this.dirs.push(dataDir);
    const child = spawn(process.execPath, ['main.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        ...this.env,
        ALETHEIA_ROLES: roles,
        ALETHEIA_DATA_DIR: dataDir,
        PORT: '0',
        ALETHEIA_LOG_LEVEL: 'info',
        ...extra,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });

    const lines: Record<string, unknown>[] = [];
    const running = new Promise<string | undefined>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        lines.push(entry);
        if (entry.msg === 'Aletheia is running') resolve(entry.url as string | undefined);
        if (entry.msg === 'failed to start') reject(new Error(`${name} failed to start: ${line}`));
      });
      child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before running`)));
    });
    running.catch(() => {});
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => {
        if (code !== 0 && code !== null && stderr) process.stderr.write(`[${name}] ${stderr}`);
        resolve(code);
      }),
    );

    const stage = { name, child, lines, running, exited };
    this.processes.push(stage);

    return stage;
  }

  /** SIGTERM every process still running, then remove their data directories. */
  async stop(): Promise<void> {
    await Promise.all(
      this.processes.map(async (stage) => {
        if (stage.child.exitCode === null && stage.child.signalCode === null) {
          stage.child.kill('SIGTERM');
          const timer = setTimeout(() => stage.child.kill('SIGKILL'), 25_000);
          await stage.exited;
          clearTimeout(timer);
        }
      }),
    );
    await Promise.all(this.dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }
}

/** A news site serving `feeds` RSS feeds whose items can be added while the test runs. */
export class GrowingNewsSite {
  readonly items: string[][];
  private server: Server | undefined;
  origin = '';

  constructor(feeds: number) {
    this.items = Array.from({ length: feeds }, () => []);
  }

  /** Adds `count` items to every feed; every fifth one names a tracked public figure. */
  add(count: number, runId: string): void {
    this.items.forEach((items, feed) => {
      for (let i = 0; i < count; i++) {
        const n = items.length;
        const who = n % 5 === 0 ? 'Lula' : 'o ministro';
        items.push(
          `<item><title>Notícia ${runId} ${feed}-${n}: ${who} comenta votação no Congresso</title>` +
            `<link>https://noticias.example.com.br/${runId}/${feed}/${n}</link>` +
            `<guid isPermaLink="false">${runId}-${feed}-${n}</guid>` +
            `<pubDate>Tue, 01 Dec 2026 12:00:00 GMT</pubDate>` +
            `<description>Segundo a reportagem, ${who} falou com jornalistas em Brasília ` +
            `sobre a pauta da semana e as negociações com os partidos.</description></item>`,
        );
      }
    });
  }

  get total(): number {
    return this.items.reduce((sum, items) => sum + items.length, 0);
  }

  feedUrls(): string[] {
    return this.items.map((_, feed) => `${this.origin}/feeds/${feed}.xml`);
  }

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const feed = Number(/^\/feeds\/(\d+)\.xml$/.exec(request.url ?? '')?.[1] ?? NaN);
      const items = this.items[feed];
      if (!items) return response.writeHead(404).end();

      response
        .writeHead(200, { 'content-type': 'application/rss+xml; charset=utf-8' })
        .end(
          `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>` +
            `<title>Notícias ${feed}</title><link>https://noticias.example.com.br/</link>` +
            `<language>pt-br</language>${[...items].reverse().join('')}</channel></rss>`,
        );
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

/** Rows of an NDJSON export of the API, e.g. every article of one feed site. */
export async function exportRows(
  apiUrl: string,
  key: string,
  path: string,
): Promise<Record<string, unknown>[]> {
  const response = await fetch(`${apiUrl}${path}`, { headers: { authorization: `Bearer ${key}` } });
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  const text = await response.text();

  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
