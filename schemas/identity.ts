/**
 * Deterministic identity of records: the same source item always gets the same id, and the
 * same content always gets the same hash, in any process and after any restart.
 */
import { createHash } from 'node:crypto';

/** Hex SHA-256 of source and native id, shortened to 128 bits. */
export function canonicalId(source: string, nativeId: string): string {
  return createHash('sha256')
    .update(source)
    .update('\u0000')
    .update(nativeId)
    .digest('hex')
    .slice(0, 32);
}

/** Hex SHA-256 of a value serialised as JSON with sorted keys. */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('hex');
}

/** JSON with object keys sorted at every depth, so equal values give equal text. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item) || Buffer.isBuffer(item)) {
      return item;
    }

    return Object.fromEntries(
      Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    );
  });
}
