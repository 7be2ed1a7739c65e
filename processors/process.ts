/**
 * The processing stage: consumes every raw topic and, for each record, normalises it to its
 * canonical form, detects the language of texts whose source did not give one, links them to
 * tracked entities, drops replays and marks syndicated copies. Canonical records go to their
 * kind's topic; a record that fails any step goes to that step's dead-letter topic.
 *
 * Tracked entities' names come from the canonical entity topic itself, read by a consumer
 * group of this process's own, and are kept in a checkpoint so a restart links at once.
 * Articles wait (up to `linkWaitMs` after start) until every tracked entity's names are
 * known, so the first articles after a cold start are not left without mentions.
 */
import { hostname } from 'node:os';

import type { Bus, Delivery, OutgoingRecord, Subscription } from '../runtime/bus.ts';
import type { CheckpointStore } from '../runtime/checkpoint.ts';
import { deadLetter, publishDeadLetters } from '../runtime/dead-letter.ts';
import type { Component, Health } from '../runtime/lifecycle.ts';
import { sleep } from '../runtime/lifecycle.ts';
import type { Logger } from '../runtime/log.ts';
import { batchSeconds, recordsDropped, recordsIn, recordsOut } from '../runtime/metrics.ts';
import { canonicalCodec, codecs } from '../schemas/index.ts';
import { sources, topics, type Stage } from '../schemas/topics.ts';
import type { CanonicalRecord, DeadLetter, NewsArticle, SocialPost } from '../schemas/types.ts';
import { Dedupe } from './dedupe.ts';
import { detectLanguage } from './detect-language.ts';
import { EntityIndex } from './link-entities.ts';
import { normalise } from './normalise/index.ts';

export interface ProcessOptions {
  trackedEntities: string[];
  /** How long after start articles wait for the names of all tracked entities. */
  linkWaitMs: number;
  maxBatchRecords: number;
  /** Records remembered for deduplication. */
  dedupeMaxEntries?: number;
}

interface Deps {
  bus: Bus;
  checkpoints: CheckpointStore;
  log: Logger;
  options: ProcessOptions;
}

class StepError extends Error {
  readonly stage: Stage;
  constructor(stage: Stage, cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.stage = stage;
  }
}

export class ProcessStage implements Component {
  readonly name = 'process';
  private readonly deps: Deps;
  private readonly index: EntityIndex;
  private readonly dedupe: Dedupe;
  private readonly subscriptions: Subscription[] = [];
  private startedAt = 0;

  constructor(deps: Deps) {
    this.deps = deps;
    this.index = new EntityIndex(deps.options.trackedEntities);
    this.dedupe = new Dedupe(deps.options.dedupeMaxEntries);
  }

  async start(): Promise<void> {
    const { bus, checkpoints, options } = this.deps;
    this.startedAt = Date.now();
    this.index.restore(await checkpoints.load('entity-index', []));

    this.subscriptions.push(
      await bus.subscribe(
        {
          group: `entity-index.${hostname()}.${process.pid}`,
          topics: [topics.canonical('entity')],
          maxBatchRecords: 500,
        },
        (batch) => this.updateIndex(batch),
      ),
      await bus.subscribe(
        {
          group: 'process',
          topics: sources.map(topics.raw),
          maxBatchRecords: options.maxBatchRecords,
        },
        (batch) => this.handle(batch),
      ),
    );
  }

  async stop(): Promise<void> {
    const subscriptions = this.subscriptions.splice(0);
    await Promise.all(subscriptions.map((subscription) => subscription.close()));
  }

  async health(): Promise<Health> {
    if (this.subscriptions.length === 0) return { ok: false, detail: 'not started' };
    const missing = this.deps.options.trackedEntities.filter(
      (qid) => !this.index.known().includes(qid),
    );

    return missing.length === 0
      ? { ok: true }
      : { ok: true, detail: `names not yet known for tracked entities ${missing.join(', ')}` };
  }

  private async updateIndex(batch: Delivery[]): Promise<void> {
    let changed = false;
    for (const delivery of batch) {
      try {
        changed = this.index.update(codecs.entity.decode(delivery.value).payload) || changed;
      } catch (err) {
        // The sink dead-letters undecodable canonical records; here it is only skipped.
        this.deps.log.debug({ err, offset: delivery.offset }, 'skipping undecodable entity');
      }
    }

    if (changed) await this.deps.checkpoints.save('entity-index', this.index.snapshot());
  }

  private async handle(batch: Delivery[]): Promise<void> {
    const timer = batchSeconds.startTimer({ stage: 'process' });
    recordsIn.inc({ stage: 'process' }, batch.length);

    const outputs = new Map<string, OutgoingRecord[]>();
    const letters: DeadLetter[] = [];
    const passed: CanonicalRecord[] = [];
    const inBatch = new Dedupe();

    for (const delivery of batch) {
      try {
        const record = await this.process(delivery, inBatch);
        if (!record) continue;

        const topic = topics.canonical(record.kind);
        const value = encode(record);
        const records = outputs.get(topic);
        if (records) records.push({ key: record.id, value });
        else outputs.set(topic, [{ key: record.id, value }]);
        inBatch.remember([record]);
        passed.push(record);
      } catch (err) {
        const failure = err instanceof StepError ? err : new StepError('normalise', err);
        letters.push(
          deadLetter({
            stage: failure.stage,
            error: failure.cause,
            bytes: delivery.value,
            delivery,
          }),
        );
        this.deps.log.warn(
          {
            stage: failure.stage,
            topic: delivery.topic,
            offset: delivery.offset,
            err: failure.cause,
          },
          'record dead-lettered',
        );
      }
    }

    await Promise.all([
      ...[...outputs].map(([topic, records]) => this.deps.bus.publish(topic, records)),
      letters.length > 0 ? publishDeadLetters(this.deps.bus, letters) : undefined,
    ]);

    this.dedupe.remember(passed);
    recordsOut.inc({ stage: 'process' }, passed.length);
    timer();
  }

  /** One record through every step; null when it is dropped on purpose. */
  private async process(delivery: Delivery, inBatch: Dedupe): Promise<CanonicalRecord | null> {
    const raw = codecs.raw.decode(delivery.value);
    const record = normalise(raw);

    if (record.kind === 'article' || record.kind === 'social_post') {
      await this.waitForEntityNames();
      try {
        enrichText(record as CanonicalRecord<NewsArticle | SocialPost>, this.index);
      } catch (err) {
        throw new StepError('link-entities', err);
      }
    }

    const verdict = this.dedupe.check(record, inBatch);
    if (verdict.action === 'drop') return this.drop(record);
    if (verdict.duplicateOf && 'duplicateOf' in record.payload) {
      record.payload.duplicateOf = verdict.duplicateOf;
    }

    return record;
  }

  private drop(record: CanonicalRecord): null {
    recordsDropped.inc({ stage: 'dedupe', reason: 'duplicate' });
    this.deps.log.debug({ recordId: record.id }, 'dropping duplicate record');

    return null;
  }

  private async waitForEntityNames(): Promise<void> {
    const deadline = this.startedAt + this.deps.options.linkWaitMs;
    while (!this.index.complete() && Date.now() < deadline && this.subscriptions.length > 0) {
      await sleep(100);
    }
  }
}

function enrichText(record: CanonicalRecord<NewsArticle | SocialPost>, index: EntityIndex): void {
  const payload = record.payload;
  const texts =
    'title' in payload ? [payload.title, payload.summary, payload.content] : [payload.text];

  if (!payload.language) payload.language = detectLanguage(texts.filter(Boolean).join('\n'));
  payload.mentions = index.link(texts);
}

function encode(record: CanonicalRecord): Buffer {
  return canonicalCodec(record.kind).encode(record);
}
