/**
 * Dead letters as operators see them: listed newest first, and read back whole (original
 * bytes included) to be replayed onto the topic they came from.
 */
import type { AnalyticsStore } from './client.ts';
import { listPage, select, type Page, type PageRequest } from './queries.ts';

export interface DeadLetterSummary {
  id: string;
  stage: string;
  code: string;
  reason: string;
  recordId: string | null;
  sourceUrl: string | null;
  originalTopic: string | null;
  originalPartition: number | null;
  originalOffset: string | null;
  originalKey: string | null;
  originalBytesLength: number;
  failedAt: string;
}

export interface StoredDeadLetter {
  id: string;
  stage: string;
  originalTopic: string | null;
  originalKey: string | null;
  originalBytes: Buffer;
}

export const listDeadLetters = (
  store: AnalyticsStore,
  request: PageRequest,
): Promise<Page<DeadLetterSummary>> => listPage<DeadLetterSummary>(store, 'deadLetters', request);

/** The dead letters with these ids; ids that are not stored are left out. */
export async function readDeadLetters(
  store: AnalyticsStore,
  ids: string[],
): Promise<StoredDeadLetter[]> {
  const rows = await select<{
    id: string;
    stage: string;
    originalTopic: string | null;
    originalKey: string | null;
    originalBytes: string;
  }>(
    store,
    `SELECT id, stage, original_topic AS originalTopic, original_key AS originalKey,
            original_bytes AS originalBytes
     FROM ${store.database}.dead_letters FINAL
     WHERE id IN {ids:Array(String)}`,
    { ids },
    'reading dead letters',
  );

  return rows.map((row) => ({ ...row, originalBytes: Buffer.from(row.originalBytes, 'base64') }));
}
