/**
 * Lists dead letters and replays chosen ones, through the API of a running system (the
 * embedded store belongs to the process that runs it, so the API is the one way in).
 *
 *   npm run dead-letters -- list [--stage normalise] [--code RECORD_DECODE_FAILED] [--limit 50]
 *   npm run dead-letters -- replay <id> [<id> ...]
 *
 * --url defaults to http://127.0.0.1:$PORT (8080); --key-file to <data dir>/api-key. The key
 * needs the admin scope.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const usage = `Usage:
  npm run dead-letters -- list [--stage STAGE] [--code CODE] [--limit N] [--all]
  npm run dead-letters -- replay ID [ID ...]
Options:
  --url URL        API address (default http://127.0.0.1:$PORT, port 8080)
  --key-file PATH  file holding an API key with the admin scope (default <data dir>/api-key)
`;

interface DeadLetter {
  id: string;
  stage: string;
  code: string;
  reason: string;
  originalTopic: string | null;
  failedAt: string;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string', default: `http://127.0.0.1:${process.env.PORT ?? 8080}` },
      'key-file': {
        type: 'string',
        default: join(process.env.ALETHEIA_DATA_DIR ?? './data', 'api-key'),
      },
      stage: { type: 'string' },
      code: { type: 'string' },
      limit: { type: 'string', default: '50' },
      all: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const [command, ...ids] = positionals;
  if (values.help || (command !== 'list' && command !== 'replay')) {
    process.stdout.write(usage);

    return values.help ? 0 : 2;
  }

  const key = readFileSync(values['key-file'], 'utf8').trim();
  const call = async (path: string, init: RequestInit = {}): Promise<unknown> => {
    const response = await fetch(new URL(path, values.url), {
      ...init,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    });
    const body = (await response.json()) as { detail?: string };
    if (!response.ok)
      throw new Error(`${init.method ?? 'GET'} ${path}: ${response.status} ${body.detail ?? ''}`);

    return body;
  };

  if (command === 'replay') {
    if (ids.length === 0) throw new Error('replay needs at least one dead-letter id');
    const { data } = (await call('/v1/dead-letters/replay', {
      method: 'POST',
      body: JSON.stringify({ ids }),
    })) as { data: { id: string; replayed: boolean; detail: string }[] };
    for (const result of data) {
      process.stdout.write(
        `${result.id}  ${result.replayed ? 'replayed to' : 'not replayed:'} ${result.detail}\n`,
      );
    }

    return data.every((result) => result.replayed) ? 0 : 1;
  }

  const query = new URLSearchParams({ limit: values.limit });
  if (values.stage) query.set('stage', values.stage);
  if (values.code) query.set('code', values.code);
  let shown = 0;
  for (;;) {
    const page = (await call(`/v1/dead-letters?${query}`)) as {
      data: DeadLetter[];
      nextCursor: string | null;
    };
    for (const letter of page.data) {
      process.stdout.write(
        `${letter.id}  ${letter.failedAt}  ${letter.stage}  ${letter.code}  ` +
          `${letter.originalTopic ?? '-'}  ${letter.reason}\n`,
      );
    }
    shown += page.data.length;
    if (!values.all || !page.nextCursor) break;
    query.set('cursor', page.nextCursor);
  }
  process.stderr.write(`${shown} dead letter${shown === 1 ? '' : 's'}\n`);

  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exitCode = 1;
  },
);
