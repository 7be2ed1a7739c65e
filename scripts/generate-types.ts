/**
 * Writes schemas/types.ts from the .avsc files, so TypeScript types never drift from the
 * schemas. Run `npm run schemas:types` after changing a schema; a test fails while the file
 * is out of date.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { readSchema } from '../schemas/index.ts';

type Schema = string | Schema[] | { [key: string]: unknown };

const files = [
  'envelope.avsc',
  'entity-mention.avsc',
  'wikidata-entity.avsc',
  'news-article.avsc',
  'social-post.avsc',
  'archive-snapshot.avsc',
  'raw-record.avsc',
  'dead-letter.avsc',
];

const primitives: Record<string, string> = {
  null: 'null',
  boolean: 'boolean',
  int: 'number',
  long: 'number',
  float: 'number',
  double: 'number',
  bytes: 'Buffer',
  string: 'string',
};

export function generateTypes(): string {
  const declarations: string[] = [];
  const emitted = new Set<string>();

  const doc = (text: unknown, indent = ''): string => {
    if (typeof text !== 'string') return '';
    if (indent.length + text.length + 7 <= 100) return `${indent}/** ${text} */\n`;

    return `${indent}/**\n${wrapWords(text, 96 - indent.length)
      .map((line) => `${indent} * ${line}\n`)
      .join('')}${indent} */\n`;
  };

  function typeOf(schema: Schema): string {
    if (typeof schema === 'string') return primitives[schema] ?? schema;
    if (Array.isArray(schema)) return schema.map(typeOf).join(' | ');

    switch (schema.type) {
      case 'array':
        return `${wrap(typeOf(schema.items as Schema))}[]`;
      case 'map':
        return `Record<string, ${typeOf(schema.values as Schema)}>`;
      case 'record':
      case 'enum':
        declare(schema);

        return schema.name as string;
      default:
        return typeOf(schema.type as Schema);
    }
  }

  function declare(schema: { [key: string]: unknown }): void {
    const name = schema.name as string;
    if (emitted.has(name)) return;
    emitted.add(name);

    if (schema.type === 'enum') {
      const symbols = (schema.symbols as string[]).map((symbol) => `'${symbol}'`).join(' | ');
      declarations.push(`${doc(schema.doc)}export type ${name} = ${symbols};\n`);

      return;
    }

    const fields = (schema.fields as { name: string; type: Schema; doc?: string }[]).map(
      (field) => `${doc(field.doc, '  ')}  ${field.name}: ${typeOf(field.type)};`,
    );
    declarations.push(`${doc(schema.doc)}export interface ${name} {\n${fields.join('\n')}\n}\n`);
  }

  for (const file of files) typeOf(readSchema(file) as Schema);

  const header = [
    '// Generated from the .avsc files in this folder by scripts/generate-types.ts.',
    '// Do not edit: change the schema and run `npm run schemas:types`.',
    '',
  ].join('\n');
  const canonical = [
    'export type Payload = WikidataEntity | NewsArticle | SocialPost | ArchiveSnapshot;',
    '',
    '/** A canonical record: the envelope and the payload of its kind. */',
    'export type CanonicalRecord<P extends Payload = Payload> = Envelope & { payload: P };',
    '',
  ].join('\n');

  return `${header}\n${declarations.join('\n')}\n${canonical}`;
}

function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }

  return [...lines, line];
}

function wrap(type: string): string {
  return type.includes('|') ? `(${type})` : type;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(new URL('../schemas/types.ts', import.meta.url), generateTypes());
}
