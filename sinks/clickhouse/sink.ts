/**
 * Writes every canonical record and every dead letter from the bus into the analytics store.
 *
 * Reads the `canonical.*` topics and all `dead-letter.*` topics (consumer group
 * sink-clickhouse), maps each record to rows (rows.ts) and buffers the rows of concurrent
 * batches until `batchMaxRows` are waiting or `lingerMs` has passed, then inserts them,
 * one JSONEachRow insert per table. A batch is acknowledged only once its rows are written,
 * so a crash or an outage loses nothing: the bus delivers the batch again.
 *
 * Each insert carries an `insert_deduplication_token` hashed from the bytes of the records its
 * rows came from (rows are a function of those bytes), so a retried insert of the same rows is
 * ignored; replays in a different batch layout insert duplicates, which the tables'
 * ReplacingMergeTree engine folds and FINAL reads hide.
 *
 * A canonical record that cannot be decoded or mapped is written to `dead_letters` directly,
 * with stage sink-clickhouse, rather than published to `dead-letter.sink-clickhouse`: this
 * sink consumes that topic itself, and waiting on its own subscription could stall a stop.
 *
 * Known limits: an insert the store rejects for its content (rather than being unreachable)
 * is retried like an outage; rows.ts guards the values the columns cannot hold. A mention
 * an article no longer has after an update stays in `entity_mentions`.
 */
import { createHash, type Hash } from 'node:crypto';

import { deadLetter } from '../../runtime/dead-letter.ts';
import type { Bus, Delivery, Subscription } from '../../runtime/bus.ts';
import { AletheiaError } from '../../runtime/errors.ts';
import type { Component, Health } from '../../runtime/lifecycle.ts';
import type { Logger } from '../../runtime/log.ts';
import { recordsDeadLettered, recordsIn, recordsOut } from '../../runtime/metrics.ts';
import { canonicalCodec, codecs } from '../../schemas/index.ts';
import { canonicalKinds, stages, topics } from '../../schemas/topics.ts';
import type { RecordKind } from '../../schemas/types.ts';
import { storeError, type AnalyticsStore } from './client.ts';
import { migrate } from './migrate.ts';
import { canonicalRows, deadLetterRow, type Row, type Table, type TableRow } from './rows.ts';

const stage = 'sink-clickhouse';

export interface ClickHouseSinkOptions {
  /** Rows that trigger an insert at once; a buffer may exceed it by one handler batch. */
  batchMaxRows: number;
  /** Longest time rows wait in the buffer for more to join them. */
  lingerMs: number;
}

/** Rows gathered for one insert round, and the handlers waiting for it. */
class PendingBatch {
  readonly rows = new Map<Table, Row[]>();
  /** Per table, a hash of the bytes of the records its rows came from: the insert's token. */
  readonly digests = new Map<Table, Hash>();
  rowCount = 0;
  recordCount = 0;
  readonly written: Promise<void>;
  resolve!: () => void;
  reject!: (err: Error) => void;

  constructor() {
    this.written = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Observed here so a batch nobody waits on any more is not an unhandled rejection.
    this.written.catch(() => {});
  }

  /** Adds the rows of one record; they are a function of its bytes, so those are hashed. */
  add(rows: TableRow[], bytes: Buffer): void {
    let hashed: Table | undefined;
    for (const { table, row } of rows) {
      const list = this.rows.get(table);
      if (list) list.push(row);
      else this.rows.set(table, [row]);
      if (table === hashed) continue;

      let digest = this.digests.get(table);
      if (!digest) this.digests.set(table, (digest = createHash('sha256').update(table)));
      digest.update(bytes);
      hashed = table;
    }
    this.rowCount += rows.length;
    this.recordCount += 1;
  }

  token(table: Table): string {
    return this.digests.get(table)!.digest('hex');
  }
}

export class ClickHouseSink implements Component {
  readonly name = stage;
  private readonly bus: Bus;
  private readonly store: AnalyticsStore;
  private readonly log: Logger;
  private readonly options: ClickHouseSinkOptions;
  private readonly kindOfTopic = new Map<string, RecordKind>(
    canonicalKinds.map((kind) => [topics.canonical(kind), kind]),
  );
  private subscription: Subscription | undefined;
  private pending = new PendingBatch();
  private lingerTimer: NodeJS.Timeout | undefined;
  /** Inserts run one after the other, in the order their batches filled. */
  private writing: Promise<void> = Promise.resolve();
  /** Inserts queued or running; while there are none, rows are written at once. */
  private queuedWrites = 0;
  private storeDown = false;

  constructor(input: {
    bus: Bus;
    store: AnalyticsStore;
    log: Logger;
    options: ClickHouseSinkOptions;
  }) {
    this.bus = input.bus;
    this.store = input.store;
    this.log = input.log;
    this.options = input.options;
  }

  async start(): Promise<void> {
    await migrate(this.store, this.log);
    this.subscription = await this.bus.subscribe(
      {
        group: stage,
        topics: [...canonicalKinds.map(topics.canonical), ...stages.map(topics.deadLetter)],
        maxBatchRecords: 2000,
        maxInFlightBatches: 4,
      },
      (batch) => this.handle(batch),
    );
    this.log.info({ database: this.store.database, store: this.store.kind }, 'sink started');
  }

  async stop(): Promise<void> {
    // Closing waits for the handlers, which wait for their rows: flush what is buffered.
    const closing = this.subscription?.close();
    this.subscription = undefined;
    this.flush();
    await closing;
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    await this.writing;
  }

  async health(): Promise<Health> {
    try {
      await this.store.ping();

      return this.storeDown ? { ok: false, detail: 'last insert failed; retrying' } : { ok: true };
    } catch {
      // The reason is logged where inserts fail; health is shown to unauthenticated probes.
      return { ok: false, detail: 'the analytics store does not answer' };
    }
  }

  /** Resolves once every row of the batch is stored; throws to have the bus deliver it again. */
  private async handle(batch: Delivery[]): Promise<void> {
    recordsIn.inc({ stage }, batch.length);
    const pending = this.pending;
    const before = pending.rowCount;
    for (const delivery of batch) pending.add(this.rowsOf(delivery), delivery.value);
    if (pending.rowCount === before) return;

    if (pending.rowCount >= this.options.batchMaxRows || this.queuedWrites === 0) this.flush();
    else this.lingerTimer ??= setTimeout(() => this.flush(), this.options.lingerMs);

    await pending.written;
  }

  private rowsOf(delivery: Delivery): TableRow[] {
    const kind = this.kindOfTopic.get(delivery.topic);
    if (kind === undefined) return this.deadLetterRows(delivery);

    try {
      return canonicalRows(canonicalCodec(kind).decode(delivery.value));
    } catch (error) {
      const letter = deadLetter({ stage, error, bytes: delivery.value, delivery });
      recordsDeadLettered.inc({ stage, code: letter.code });
      this.log.warn(
        { topic: delivery.topic, offset: delivery.offset, key: delivery.key, code: letter.code },
        'record cannot be stored; writing it to dead_letters',
      );

      return [deadLetterRow(letter)];
    }
  }

  /** A dead letter that cannot be read is lost: dead-lettering it again would loop. */
  private deadLetterRows(delivery: Delivery): TableRow[] {
    try {
      return [deadLetterRow(codecs.deadLetter.decode(delivery.value))];
    } catch (err) {
      this.log.error(
        { err, topic: delivery.topic, partition: delivery.partition, offset: delivery.offset },
        'dead letter cannot be read; dropping it',
      );

      return [];
    }
  }

  /** Closes the buffer and queues its insert behind the ones already running. */
  private flush(): void {
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    const batch = this.pending;
    if (batch.rowCount === 0) return;

    this.pending = new PendingBatch();
    this.queuedWrites += 1;
    this.writing = this.writing
      .then(() => this.write(batch))
      .finally(() => {
        this.queuedWrites -= 1;
        // Rows that gathered while the store was busy go out together, without lingering.
        if (this.queuedWrites === 0 && this.subscription) this.flush();
      });
  }

  private async write(batch: PendingBatch): Promise<void> {
    const started = Date.now();
    try {
      for (const [table, rows] of batch.rows) await this.insert(table, rows, batch.token(table));
    } catch (err) {
      const error = err instanceof AletheiaError ? err : storeError(err, 'inserting rows');
      if (!this.storeDown) {
        this.log.warn({ err: error }, 'analytics store insert failed; batches will be retried');
      }
      this.storeDown = true;
      batch.reject(error);

      return;
    }

    if (this.storeDown) this.log.info('analytics store inserts succeed again');
    this.storeDown = false;
    recordsOut.inc({ stage }, batch.recordCount);
    this.log.debug({ rows: batch.rowCount, durationMs: Date.now() - started }, 'rows inserted');
    batch.resolve();
  }

  private async insert(table: Table, rows: Row[], token: string): Promise<void> {
    try {
      await this.store.client.insert({
        table: `${this.store.database}.${table}`,
        format: 'JSONEachRow',
        values: rows,
        clickhouse_settings: { insert_deduplication_token: token },
      });
    } catch (err) {
      throw storeError(err, `inserting ${rows.length} rows into ${table}`);
    }
  }
}
