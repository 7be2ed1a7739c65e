/**
 * Exports: the lists of views.ts without pages, streamed from the store as
 * CSVWithNames or JSONEachRow bytes, with the lists' columns and filters, up to `maxRows`
 * rows. Rows come in the table's storage order (by id), not newest first: sorting a whole
 * table by time would hold it in memory, while reading in storage order lets the store
 * stream it block by block, so memory stays flat whatever the size of the export.
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

/** Blocks of about a thousand rows, so the store hands over about 1 MB at a time. */
const exportSettings = ', max_block_size = 1024, optimize_read_in_order = 1';

/** The SQL and parameters of an export, for a script or a benchmark to run as it likes. */
export function exportQuery(
  store: AnalyticsStore,
  name: ViewName,
  filters: Filters,
  maxRows: number,
): { sql: string; params: QueryParams } {
  const params: QueryParams = { maxRows };
  const sql =
    selectSql(views[name], store.database, filters, params, {
      limitParam: 'maxRows',
      order: views[name].storageOrder,
    }) + exportSettings;

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
