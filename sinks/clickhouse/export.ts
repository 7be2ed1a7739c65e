/**
 * Exports: the lists of views.ts without pages, streamed from the store as
 * CSVWithNames or JSONEachRow bytes. Rows come in the lists' order and with their columns,
 * so an export holds what paging through the list would give, up to `maxRows` rows.
 * Memory stays flat whatever the size: bytes are yielded chunk by chunk as the store
 * produces them (see AnalyticsStore.exportStream).
 */
import type { AnalyticsStore, ExportFormat, QueryParams } from './client.ts';
import { selectSql, views, type Filters, type ViewName } from './views.ts';

export interface ExportOptions {
  format: ExportFormat;
  /** Rows streamed at most; the rest is left out. */
  maxRows: number;
  /** Aborting stops the query, for a client that went away. */
  signal?: AbortSignal;
}

/** The SQL and parameters of an export, for a script or a benchmark to run as it likes. */
export function exportQuery(
  store: AnalyticsStore,
  name: ViewName,
  filters: Filters,
  maxRows: number,
): { sql: string; params: QueryParams } {
  const params: QueryParams = { maxRows };
  const sql = selectSql(views[name], store.database, filters, params, { limitParam: 'maxRows' });

  return { sql, params };
}

export function exportRows(
  store: AnalyticsStore,
  name: ViewName,
  filters: Filters,
  options: ExportOptions,
): AsyncIterable<Uint8Array> {
  const { sql, params } = exportQuery(store, name, filters, options.maxRows);

  return store.exportStream(sql, params, options.format, options.signal);
}

export const exportArticles = (store: AnalyticsStore, filters: Filters, options: ExportOptions) =>
  exportRows(store, 'articles', filters, options);

export const exportEntities = (store: AnalyticsStore, filters: Filters, options: ExportOptions) =>
  exportRows(store, 'entities', filters, options);

export const exportMentions = (store: AnalyticsStore, filters: Filters, options: ExportOptions) =>
  exportRows(store, 'mentions', filters, options);
