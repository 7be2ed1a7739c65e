/**
 * Avro schemas are the one source of truth for the records on the bus. This module loads the
 * `.avsc` files beside it and builds one codec per topic family: raw records, one canonical
 * record per kind (envelope fields plus the kind's payload) and dead letters. Every stage
 * encodes and decodes through these codecs, so a record that does not match its schema is
 * caught at the boundary where it appears.
 */
import { readFileSync } from 'node:fs';

import avro from 'avsc';

import { AletheiaError } from '../runtime/errors.ts';
import type {
  ArchiveSnapshot,
  CanonicalRecord,
  DeadLetter,
  NewsArticle,
  RawRecord,
  RecordKind,
  SocialPost,
  WikidataEntity,
} from './types.ts';

export type * from './types.ts';

/** Bumped when a canonical schema changes; stored in every record's envelope. */
export const schemaVersion = 1;

type AvroSchema = Record<string, unknown> & { fields?: unknown[] };

export function readSchema(file: string): AvroSchema {
  return JSON.parse(readFileSync(new URL(file, import.meta.url), 'utf8')) as AvroSchema;
}

/** Payload schema file of each canonical kind, and the record name of its canonical form. */
export const payloadSchemas = {
  entity: { file: 'wikidata-entity.avsc', name: 'CanonicalEntity' },
  article: { file: 'news-article.avsc', name: 'CanonicalArticle' },
  social_post: { file: 'social-post.avsc', name: 'CanonicalSocialPost' },
  archive_snapshot: { file: 'archive-snapshot.avsc', name: 'CanonicalArchiveSnapshot' },
} as const satisfies Record<RecordKind, { file: string; name: string }>;

export class Codec<T> {
  readonly type: avro.Type;

  constructor(type: avro.Type) {
    this.type = type;
  }

  get name(): string {
    return this.type.name ?? 'record';
  }

  /** The schema as JSON, with every named type defined inline (for a schema registry). */
  schema(): object {
    return this.type.schema({ exportAttrs: true }) as object;
  }

  /** Paths and reasons of the fields that do not match the schema; empty when valid. */
  problems(value: unknown): string[] {
    const problems: string[] = [];
    this.type.isValid(value, {
      errorHook: (path, fieldValue, fieldType) => {
        const expected = fieldType.typeName;
        problems.push(
          `${path.join('.') || '(root)'}: expected ${expected}, got ${describe(fieldValue)}`,
        );
      },
    });

    return problems;
  }

  encode(value: T): Buffer {
    try {
      return this.type.toBuffer(value);
    } catch (err) {
      const problems = this.problems(value);
      const reason = problems.length > 0 ? problems.join('; ') : String(err);
      throw new AletheiaError(
        'RECORD_SCHEMA_INVALID',
        `${this.name} does not match its schema: ${reason}`,
        {
          cause: err,
        },
      );
    }
  }

  decode(bytes: Buffer): T {
    try {
      return this.type.fromBuffer(bytes) as T;
    } catch (err) {
      throw new AletheiaError(
        'RECORD_DECODE_FAILED',
        `decoding ${this.name}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string')
    return `string '${value.length > 40 ? value.slice(0, 40) + '…' : value}'`;
  if (Array.isArray(value)) return 'array';

  return typeof value;
}

function canonicalType(kind: RecordKind): avro.Type {
  const registry = {};
  avro.Type.forSchema(readSchema('entity-mention.avsc') as avro.Schema, { registry });
  const envelope = readSchema('envelope.avsc');
  const payload = readSchema(payloadSchemas[kind].file);

  return avro.Type.forSchema(
    {
      type: 'record',
      name: payloadSchemas[kind].name,
      namespace: 'org.aletheia.canonical',
      doc: `Canonical ${kind.replace('_', ' ')} record: the common envelope and its payload.`,
      fields: [
        ...(envelope.fields as avro.schema.RecordType['fields']),
        { name: 'payload', type: payload },
      ],
    } as avro.Schema,
    { registry },
  );
}

export const codecs = {
  raw: new Codec<RawRecord>(avro.Type.forSchema(readSchema('raw-record.avsc') as avro.Schema)),
  deadLetter: new Codec<DeadLetter>(
    avro.Type.forSchema(readSchema('dead-letter.avsc') as avro.Schema),
  ),
  entity: new Codec<CanonicalRecord<WikidataEntity>>(canonicalType('entity')),
  article: new Codec<CanonicalRecord<NewsArticle>>(canonicalType('article')),
  social_post: new Codec<CanonicalRecord<SocialPost>>(canonicalType('social_post')),
  archive_snapshot: new Codec<CanonicalRecord<ArchiveSnapshot>>(canonicalType('archive_snapshot')),
};

export function canonicalCodec(kind: RecordKind): Codec<CanonicalRecord> {
  return codecs[kind] as unknown as Codec<CanonicalRecord>;
}
