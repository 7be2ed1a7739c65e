/**
 * Normalises a raw Wikidata entity (the wbgetentities JSON shape, whole or as the connector
 * reduces it) into the canonical entity record: names with language fallback pt-br -> pt ->
 * en, classes, images, social handles and Wikipedia-family sitelinks.
 *
 * Statements are read by rank the way Wikidata's own truthy view does it, except that normal
 * values are kept beside preferred ones (listed after them); deprecated values are skipped.
 * An entity lacking labels, statements or sitelinks still normalises, to nulls and empties.
 */
import { getSitelinkUrl, type Site } from 'wikibase-sdk';

import {
  isObject,
  qidPattern,
  socialHandleProperties,
  workingLanguages,
} from '../../ingest/wikidata/entity.ts';
import { AletheiaError } from '../../runtime/errors.ts';
import { schemaVersion } from '../../schemas/index.ts';
import { contentHash } from '../../schemas/identity.ts';
import type {
  CanonicalRecord,
  RawRecord,
  Sitelink,
  SocialHandle,
  WikidataEntity,
} from '../../schemas/types.ts';

type Json = Record<string, unknown>;

export function normaliseWikidataEntity(raw: RawRecord): CanonicalRecord<WikidataEntity> {
  const entity = decode(raw);
  const qid = entity.id as string;
  const label = firstTerm(entity.labels);
  const description = firstTerm(entity.descriptions);
  const modifiedAt = typeof entity.modified === 'string' ? Date.parse(entity.modified) : NaN;

  const payload: WikidataEntity = {
    qid,
    label: label?.value ?? null,
    labelLanguage: label?.language ?? null,
    description: description?.value ?? null,
    descriptionLanguage: description?.language ?? null,
    labels: labels(entity.labels),
    aliases: aliases(entity.aliases, label?.value),
    instanceOf: unique(values(entity.claims, 'P31').flatMap((value) => itemId(value) ?? [])),
    image: values(entity.claims, 'P18').find(isText) ?? null,
    logo: values(entity.claims, 'P154').find(isText) ?? null,
    socialHandles: socialHandles(entity.claims),
    sitelinks: sitelinks(entity.sitelinks),
    lastRevisionId: typeof entity.lastrevid === 'number' ? entity.lastrevid : 0,
    modifiedAt: Number.isNaN(modifiedAt) ? null : modifiedAt,
  };
  const { lastRevisionId: _revision, modifiedAt: _modified, ...content } = payload;

  return {
    id: raw.id,
    kind: 'entity',
    source: 'wikidata',
    nativeId: qid,
    sourceUrl: raw.sourceUrl,
    fetchedAt: raw.fetchedAt,
    publishedAt: payload.modifiedAt,
    // Revision and timestamp change on every edit, even one to a property not kept here.
    contentHash: contentHash(content),
    schemaVersion,
    payload,
  };
}

function decode(raw: RawRecord): Json {
  let entity: unknown;
  try {
    entity = JSON.parse(raw.body.toString('utf8'));
  } catch (err) {
    const message = `decoding Wikidata entity ${raw.nativeId}: ${(err as Error).message}`;
    throw new AletheiaError('RECORD_DECODE_FAILED', message, {
      cause: err,
      stage: 'normalise',
      recordId: raw.id,
    });
  }

  const details = { stage: 'normalise', recordId: raw.id };
  if (!isObject(entity)) {
    const message = `normalising Wikidata entity ${raw.nativeId}: body is not an entity object`;
    throw new AletheiaError('WIKIDATA_ENTITY_INVALID', message, details);
  }

  if (typeof entity.id !== 'string' || !qidPattern.test(entity.id)) {
    const got = String(entity.id);
    const reason = `expected a QID like Q42, got '${got}'`;
    const message = `normalising Wikidata entity ${raw.nativeId}: ${reason}`;
    throw new AletheiaError('WIKIDATA_ENTITY_INVALID', message, details);
  }

  if ('missing' in entity) {
    const message = `normalising Wikidata entity ${entity.id}: entity does not exist`;
    throw new AletheiaError('WIKIDATA_ENTITY_INVALID', message, details);
  }

  return entity;
}

function termValue(section: unknown, language: string): string | undefined {
  const term = isObject(section) ? section[language] : undefined;

  return isObject(term) && typeof term.value === 'string' ? term.value : undefined;
}

function firstTerm(section: unknown): { value: string; language: string } | undefined {
  for (const language of workingLanguages) {
    const value = termValue(section, language);
    if (value !== undefined) return { value, language };
  }

  return undefined;
}

function labels(section: unknown): Record<string, string> {
  const found: Record<string, string> = {};
  for (const language of workingLanguages) {
    const value = termValue(section, language);
    if (value !== undefined) found[language] = value;
  }

  return found;
}

/** Aliases of every working language, in preference order, each spelling once. */
function aliases(section: unknown, label: string | undefined): string[] {
  const seen = new Set(label === undefined ? [] : [foldCase(label)]);
  const found: string[] = [];
  for (const language of workingLanguages) {
    const list = isObject(section) ? section[language] : undefined;
    if (!Array.isArray(list)) continue;

    for (const item of list) {
      const value = isObject(item) && typeof item.value === 'string' ? item.value.trim() : '';
      if (!value || seen.has(foldCase(value))) continue;
      seen.add(foldCase(value));
      found.push(value);
    }
  }

  return found;
}

function foldCase(text: string): string {
  return text.normalize('NFC').toLowerCase();
}

/** Main values of a property's statements with a value: preferred first, deprecated skipped. */
function values(claims: unknown, property: string): unknown[] {
  const list = isObject(claims) ? claims[property] : undefined;
  if (!Array.isArray(list)) return [];

  const usable = list.filter(
    (statement): statement is Json =>
      isObject(statement) &&
      (statement.rank === 'preferred' || statement.rank === 'normal') &&
      isObject(statement.mainsnak) &&
      (statement.mainsnak.snaktype ?? 'value') === 'value' &&
      isObject(statement.mainsnak.datavalue),
  );
  const ordered = [
    ...usable.filter((statement) => statement.rank === 'preferred'),
    ...usable.filter((statement) => statement.rank !== 'preferred'),
  ];

  return ordered.map((statement) => ((statement.mainsnak as Json).datavalue as Json).value);
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

function itemId(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  if (typeof value.id === 'string' && qidPattern.test(value.id)) return value.id;
  if (typeof value['numeric-id'] === 'number') return `Q${value['numeric-id']}`;

  return undefined;
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

function socialHandles(claims: unknown): SocialHandle[] {
  const handles: SocialHandle[] = [];
  for (const [property, platform] of Object.entries(socialHandleProperties)) {
    const found = unique(
      values(claims, property)
        .filter(isText)
        .map((handle) => handle.trim()),
    );
    for (const handle of found) handles.push({ property, platform, handle });
  }

  return handles;
}

/** Sorted by site, so the same sitelinks always give the same content hash. */
function sitelinks(section: unknown): Sitelink[] {
  if (!isObject(section)) return [];

  const found: Sitelink[] = [];
  for (const [site, value] of Object.entries(section)) {
    if (!site.endsWith('wiki') || !isObject(value) || typeof value.title !== 'string') continue;

    const url = typeof value.url === 'string' ? value.url : sitelinkUrl(site, value.title);
    if (url) found.push({ site, title: value.title, url });
  }

  return found.sort((a, b) => (a.site < b.site ? -1 : a.site > b.site ? 1 : 0));
}

/** The article URL when the response left it out (requested without `sitelinks/urls`). */
function sitelinkUrl(site: string, title: string): string | undefined {
  try {
    return getSitelinkUrl({ site: site as Site, title });
  } catch {
    return undefined;
  }
}
