/**
 * Topic names and the codec of each. Raw records go to `raw.<source>`, canonical records to
 * one topic per kind, and records a stage cannot handle to `dead-letter.<stage>`.
 */
import type { RecordKind } from './types.ts';

/** Stages that may dead-letter a record; each has its own dead-letter topic. */
export const stages = [
  'rss',
  'wikidata',
  'normalise',
  'link-entities',
  'dedupe',
  'sink-clickhouse',
] as const;

export type Stage = (typeof stages)[number];

/** Sources with a connector; each has its own raw topic. */
export const sources = ['rss', 'wikidata'] as const;

export type Source = (typeof sources)[number];

export const canonicalKinds: readonly RecordKind[] = [
  'entity',
  'article',
  'social_post',
  'archive_snapshot',
];

export const topics = {
  raw: (source: string): string => `raw.${source}`,
  canonical: (kind: RecordKind): string => `canonical.${kind.replace('_', '-')}`,
  deadLetter: (stage: string): string => `dead-letter.${stage}`,
};

/** Every topic the pipeline uses, for creating them at start. */
export function allTopics(): string[] {
  return [
    ...sources.map(topics.raw),
    ...canonicalKinds.map(topics.canonical),
    ...stages.map(topics.deadLetter),
  ];
}
