/**
 * Which codec, and so which Avro schema, the records of a topic carry: `raw.<source>` holds
 * raw records, `canonical.<kind>` the kind's canonical record, `dead-letter.<stage>` dead
 * letters. The registry subject of a topic's values is `<topic>-value` (Confluent's
 * TopicNameStrategy).
 */
import { canonicalCodec, codecs, type Codec } from '../../schemas/index.ts';
import { canonicalKinds } from '../../schemas/topics.ts';
import type { RecordKind } from '../../schemas/types.ts';
import { AletheiaError } from '../errors.ts';

export function codecForTopic(topic: string): Codec<unknown> {
  const dot = topic.indexOf('.');
  const family = dot > 0 ? topic.slice(0, dot) : '';
  const rest = topic.slice(dot + 1);

  if (family === 'raw' && rest !== '') return codecs.raw as Codec<unknown>;
  if (family === 'dead-letter' && rest !== '') return codecs.deadLetter as Codec<unknown>;
  if (family === 'canonical') {
    const kind = rest.replaceAll('-', '_') as RecordKind;
    if (canonicalKinds.includes(kind)) return canonicalCodec(kind) as Codec<unknown>;
  }

  throw new AletheiaError(
    'CONFIG_INVALID',
    `no schema for topic ${topic}: expected raw.<source>, canonical.<kind> or dead-letter.<stage>`,
  );
}

export function valueSubject(topic: string): string {
  return `${topic}-value`;
}
