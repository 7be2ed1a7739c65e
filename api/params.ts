/**
 * Query and path parameters of the API, validated with zod. Unknown parameters are refused
 * by name, so a typo (`?entiy=Q42`) is an error rather than an unfiltered answer, and every
 * message says what was expected and what came.
 */
import { z } from 'zod';

import { AletheiaError } from '../runtime/errors.ts';
import type { Filters, PageRequest } from '../sinks/clickhouse/queries.ts';

const got = (input: unknown): string => `got '${String(input)}'`;

export const qid = z
  .string()
  .regex(/^Q[1-9]\d*$/, { error: (issue) => `expected a QID like Q42, ${got(issue.input)}` });

export const articleId = z.string().regex(/^[0-9a-f]{32}$/, {
  error: (issue) => `expected an article id of 32 hex digits, ${got(issue.input)}`,
});

const isoTimestamp = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/;

const timestamp = z
  .string()
  .refine((value) => isoTimestamp.test(value) && !Number.isNaN(Date.parse(value)), {
    error: (issue) =>
      `expected an ISO 8601 date or timestamp with a zone, like 2026-01-02 or ` +
      `2026-01-02T03:04:05Z, ${got(issue.input)}`,
  });

const limit = z
  .string()
  .regex(/^\d+$/, {
    error: (issue) => `expected a whole number from 1 to 500, ${got(issue.input)}`,
  })
  .transform(Number)
  .refine((value) => value >= 1 && value <= 500, {
    error: (issue) => `expected a whole number from 1 to 500, ${got(issue.input)}`,
  })
  .default(50);

const text = (max: number) =>
  z
    .string()
    .min(1, { error: 'expected some text, got nothing' })
    .max(max, { error: `expected at most ${max} characters` });

const language = z
  .string()
  .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, {
    error: (issue) => `expected a language code like pt-br or en, ${got(issue.input)}`,
  })
  .transform((value) => value.toLowerCase());

const filterFields = {
  from: timestamp.optional(),
  to: timestamp.optional(),
  source: text(100).optional(),
  entity: qid.optional(),
  language: language.optional(),
  q: text(200).optional(),
};

const pageFields = { limit, cursor: text(2000).optional() };

const exportFields = {
  format: z
    .enum(['csv', 'ndjson'], { error: (issue) => `expected csv or ndjson, ${got(issue.input)}` })
    .default('csv'),
};

const entityFilterFields = {
  from: filterFields.from,
  to: filterFields.to,
  source: filterFields.source,
  q: filterFields.q,
};

const schemas = {
  articles: z.strictObject({ ...filterFields, ...pageFields }),
  articlesExport: z.strictObject({ ...filterFields, ...exportFields }),
  entities: z.strictObject({ ...entityFilterFields, ...pageFields }),
  entitiesExport: z.strictObject({ ...entityFilterFields, ...exportFields }),
  entity: z.strictObject({ from: filterFields.from, to: filterFields.to }),
  mentions: z.strictObject({ ...filterFields, ...pageFields }),
  mentionsExport: z.strictObject({ ...filterFields, ...exportFields }),
  mentionCounts: z.strictObject({ ...filterFields, limit }),
  deadLetters: z.strictObject({
    from: filterFields.from,
    to: filterFields.to,
    stage: text(100).optional(),
    code: text(100).optional(),
    ...pageFields,
  }),
  none: z.strictObject({}),
};

export type ParamsName = keyof typeof schemas;

type Query = Record<string, string | string[] | undefined>;

export function parseQuery(
  name: 'articles' | 'entities' | 'mentions' | 'deadLetters',
  query: Query,
): PageRequest;
export function parseQuery(
  name: 'articlesExport' | 'entitiesExport' | 'mentionsExport',
  query: Query,
): Filters & { format: 'csv' | 'ndjson' };
export function parseQuery(name: 'entity', query: Query): Pick<Filters, 'from' | 'to'>;
export function parseQuery(name: 'mentionCounts', query: Query): Filters & { limit: number };
export function parseQuery(name: 'none', query: Query): Record<string, never>;
export function parseQuery(name: ParamsName, query: Query): unknown {
  for (const [key, value] of Object.entries(query)) {
    if (Array.isArray(value)) {
      throw new AletheiaError('API_BAD_REQUEST', `query parameter '${key}' given more than once`);
    }
  }

  const parsed = validate(schemas[name], query, 'query parameter');
  const range = parsed as { from?: string; to?: string };
  if (
    range.from !== undefined &&
    range.to !== undefined &&
    Date.parse(range.from) >= Date.parse(range.to)
  ) {
    throw new AletheiaError(
      'API_BAD_REQUEST',
      `from (${range.from}) must be before to (${range.to})`,
    );
  }

  return parsed;
}

/** Validates one value or object; a failure is API_BAD_REQUEST listing every problem. */
export function validate<T extends z.ZodType>(
  schema: T,
  input: unknown,
  what: string,
): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;

  const problems = result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const names = issue.keys.map((key) => `'${key}'`).join(', ');
      const known = schema instanceof z.ZodObject ? Object.keys(schema.shape).join(', ') : '';

      return (
        `unknown ${what}${issue.keys.length > 1 ? 's' : ''} ${names}` +
        (known ? ` (known: ${known})` : '')
      );
    }
    const path = issue.path.join('.');

    return path ? `${path}: ${issue.message}` : issue.message;
  });

  throw new AletheiaError('API_BAD_REQUEST', problems.join('; '));
}
