/**
 * Deduplication by id and content hash. A record whose id was already passed on with the
 * same content hash is a replay and is dropped; a record with new content under a known id
 * is an update and passes; a different id with content already seen (one story syndicated
 * by two outlets) passes marked `duplicateOf` the first id.
 *
 * What is "seen" is only recorded after downstream stages acknowledged the records
 * (`remember`), so a batch that is delivered again after a failure is not mistaken for its
 * own duplicate. The memory is bounded (least recently seen forgotten first); the idempotent
 * sinks absorb whatever passes after it forgot.
 */

export type DedupeVerdict =
  { action: 'pass'; duplicateOf: string | null } | { action: 'drop'; reason: 'duplicate' };

interface Fingerprint {
  id: string;
  contentHash: string;
}

export class Dedupe {
  private readonly maxEntries: number;
  private readonly hashById = new Map<string, string>();
  private readonly idByHash = new Map<string, string>();

  constructor(maxEntries = 200_000) {
    this.maxEntries = maxEntries;
  }

  /**
   * `pending` holds what the current batch passed so far and is not yet acknowledged: the
   * latest version of an id within the batch counts over what was remembered before, and the
   * first id of some content is the oldest one either knows.
   */
  check(record: Fingerprint, pending?: Dedupe): DedupeVerdict {
    const latest = pending?.hashById.has(record.id)
      ? pending.hashById.get(record.id)
      : this.hashById.get(record.id);
    if (latest === record.contentHash) return { action: 'drop', reason: 'duplicate' };

    const first =
      this.idByHash.get(record.contentHash) ?? pending?.idByHash.get(record.contentHash);

    return {
      action: 'pass',
      duplicateOf: first !== undefined && first !== record.id ? first : null,
    };
  }

  remember(records: Fingerprint[]): void {
    for (const { id, contentHash } of records) {
      this.hashById.delete(id);
      this.hashById.set(id, contentHash);
      if (!this.idByHash.has(contentHash)) this.idByHash.set(contentHash, id);
    }

    trim(this.hashById, this.maxEntries);
    trim(this.idByHash, this.maxEntries);
  }
}

/** Maps iterate in insertion order, so the first keys are the least recently set. */
function trim(map: Map<string, string>, maxEntries: number): void {
  for (const key of map.keys()) {
    if (map.size <= maxEntries) return;
    map.delete(key);
  }
}
