/**
 * The Wikidata entity as the connector keeps and publishes it: the wbgetentities JSON shape,
 * reduced to the terms, statements and sitelinks the normaliser reads, and the merge that
 * lets a later, partial response add to what is known without erasing it.
 *
 * The shape stays the API's own (terms keyed by language, statements keyed by property,
 * sitelinks keyed by site), so the normaliser reads a reduced body and a full entity alike.
 */

/** Languages whose labels, descriptions and aliases are kept, in order of preference. */
export const workingLanguages = ['pt-br', 'pt', 'en'] as const;

/** Properties holding an account on a social platform, and the platform's name. */
export const socialHandleProperties = {
  P2002: 'twitter',
  P2003: 'instagram',
  P2013: 'facebook',
  P2397: 'youtube',
  P4033: 'mastodon',
  P7085: 'tiktok',
  P12361: 'bluesky',
} as const satisfies Record<string, string>;

/** Statements kept: instance of, image, logo and the social handles. */
export const keptProperties: readonly string[] = [
  'P31',
  'P18',
  'P154',
  ...Object.keys(socialHandleProperties),
];

export const qidPattern = /^Q[1-9]\d*$/;

export interface Term {
  language: string;
  value: string;
}

export interface Snak {
  snaktype: string;
  property: string;
  datatype?: string;
  datavalue?: { type: string; value: unknown };
}

export interface Statement {
  id?: string;
  rank: string;
  mainsnak: Snak;
}

export interface SiteLink {
  site: string;
  title: string;
  url?: string;
}

/** An entity as wbgetentities returns it, every part optional: the response is not trusted. */
export interface WireEntity {
  id?: unknown;
  type?: unknown;
  lastrevid?: unknown;
  modified?: unknown;
  labels?: unknown;
  descriptions?: unknown;
  aliases?: unknown;
  claims?: unknown;
  sitelinks?: unknown;
  missing?: unknown;
  redirects?: unknown;
}

export interface ReducedEntity {
  id: string;
  type: string;
  lastrevid?: number;
  modified?: string;
  labels: Record<string, Term>;
  descriptions: Record<string, Term>;
  aliases: Record<string, Term[]>;
  claims: Record<string, Statement[]>;
  sitelinks: Record<string, SiteLink>;
}

/** Keeps the working languages, the kept properties and the Wikipedia-family sitelinks. */
export function reduceEntity(entity: WireEntity & { id: string }): ReducedEntity {
  const reduced: ReducedEntity = {
    id: entity.id,
    type: typeof entity.type === 'string' ? entity.type : 'item',
    labels: terms(entity.labels),
    descriptions: terms(entity.descriptions),
    aliases: aliasTerms(entity.aliases),
    claims: statements(entity.claims),
    sitelinks: sitelinks(entity.sitelinks),
  };
  if (typeof entity.lastrevid === 'number') reduced.lastrevid = entity.lastrevid;
  if (typeof entity.modified === 'string') reduced.modified = entity.modified;

  return reduced;
}

/**
 * A fresh response merged over what was delivered before. A language, property or site the
 * fresh response has replaces the earlier one; one it lacks is kept from before, because a
 * refresh must never overwrite a known field with an absent one.
 */
export function mergeEntity(prior: ReducedEntity | undefined, fresh: ReducedEntity): ReducedEntity {
  if (!prior) return fresh;

  const merged: ReducedEntity = {
    id: fresh.id,
    type: fresh.type,
    labels: { ...prior.labels, ...fresh.labels },
    descriptions: { ...prior.descriptions, ...fresh.descriptions },
    aliases: { ...prior.aliases, ...fresh.aliases },
    claims: { ...prior.claims, ...fresh.claims },
    sitelinks: { ...prior.sitelinks, ...fresh.sitelinks },
  };
  const lastrevid = fresh.lastrevid ?? prior.lastrevid;
  const modified = fresh.modified ?? prior.modified;
  if (lastrevid !== undefined) merged.lastrevid = lastrevid;
  if (modified !== undefined) merged.modified = modified;

  return merged;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function term(value: unknown, language: string): Term | undefined {
  if (!isObject(value) || typeof value.value !== 'string') return undefined;

  return { language, value: value.value };
}

function terms(section: unknown): Record<string, Term> {
  const kept: Record<string, Term> = {};
  if (!isObject(section)) return kept;

  for (const language of workingLanguages) {
    const found = term(section[language], language);
    if (found) kept[language] = found;
  }

  return kept;
}

function aliasTerms(section: unknown): Record<string, Term[]> {
  const kept: Record<string, Term[]> = {};
  if (!isObject(section)) return kept;

  for (const language of workingLanguages) {
    const list = section[language];
    if (!Array.isArray(list)) continue;
    kept[language] = list.flatMap((item) => term(item, language) ?? []);
  }

  return kept;
}

function statements(section: unknown): Record<string, Statement[]> {
  const kept: Record<string, Statement[]> = {};
  if (!isObject(section)) return kept;

  for (const property of keptProperties) {
    const list = section[property];
    if (!Array.isArray(list)) continue;
    kept[property] = list.flatMap((item) => statement(item, property) ?? []);
  }

  return kept;
}

/** Qualifiers and references are dropped: the normaliser reads main values and ranks only. */
function statement(value: unknown, property: string): Statement | undefined {
  if (!isObject(value) || !isObject(value.mainsnak)) return undefined;

  const snak = value.mainsnak;
  const mainsnak: Snak = {
    snaktype: typeof snak.snaktype === 'string' ? snak.snaktype : 'value',
    property,
  };
  if (typeof snak.datatype === 'string') mainsnak.datatype = snak.datatype;
  if (isObject(snak.datavalue) && typeof snak.datavalue.type === 'string') {
    mainsnak.datavalue = { type: snak.datavalue.type, value: snak.datavalue.value };
  }

  const kept: Statement = {
    rank: typeof value.rank === 'string' ? value.rank : 'normal',
    mainsnak,
  };
  if (typeof value.id === 'string') kept.id = value.id;

  return kept;
}

/** Sites of the Wikipedia family (`ptwiki`, `enwiki`, `commonswiki`), not Wikiquote & co. */
function sitelinks(section: unknown): Record<string, SiteLink> {
  const kept: Record<string, SiteLink> = {};
  if (!isObject(section)) return kept;

  for (const [site, value] of Object.entries(section)) {
    if (!site.endsWith('wiki') || !isObject(value) || typeof value.title !== 'string') continue;
    const link: SiteLink = { site, title: value.title };
    if (typeof value.url === 'string') link.url = value.url;
    kept[site] = link;
  }

  return kept;
}
