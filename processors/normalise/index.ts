/**
 * Normalisers by raw content type: each turns a source's raw record into its canonical
 * record. A new source registers its normaliser here.
 */
import { AletheiaError } from '../../runtime/errors.ts';
import type { CanonicalRecord, RawRecord } from '../../schemas/types.ts';
import { normaliseFeedItem } from './rss.ts';
import { normaliseWikidataEntity } from './wikidata.ts';

export type Normaliser = (raw: RawRecord) => CanonicalRecord;

export const normalisers: Record<string, Normaliser> = {
  'application/vnd.aletheia.feed-item+json': normaliseFeedItem,
  'application/vnd.wikidata.entity+json': normaliseWikidataEntity,
};

export function normalise(raw: RawRecord): CanonicalRecord {
  const normaliser = normalisers[raw.contentType];
  if (!normaliser) {
    throw new AletheiaError(
      'RECORD_UNSUPPORTED',
      `no normaliser for content type '${raw.contentType}' from source ${raw.source}`,
      { recordId: raw.id },
    );
  }

  return normaliser(raw);
}
