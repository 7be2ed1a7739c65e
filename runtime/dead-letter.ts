/**
 * Dead letters: a record a stage cannot handle is published, with the stage, the error code,
 * the reason and its original bytes, to `dead-letter.<stage>`. It is never dropped silently
 * and never stops the pipeline; the dead-letter sink stores it where operators can list and
 * replay it.
 */
import { createHash } from 'node:crypto';

import { codecs } from '../schemas/index.ts';
import { topics, type Stage } from '../schemas/topics.ts';
import type { DeadLetter } from '../schemas/types.ts';
import type { Bus, Delivery } from './bus.ts';
import { isAletheiaError } from './errors.ts';
import { recordsDeadLettered } from './metrics.ts';

export interface DeadLetterInput {
  stage: Stage;
  error: unknown;
  /** The bytes as the stage received them: a bus record's value, or a fetched body. */
  bytes: Buffer;
  delivery?: Delivery;
  recordId?: string;
  sourceUrl?: string;
}

export function deadLetter(input: DeadLetterInput): DeadLetter {
  const { stage, error, bytes, delivery } = input;
  const code = isAletheiaError(error) ? error.code : 'RECORD_UNSUPPORTED';
  const reason = error instanceof Error ? error.message : String(error);
  const id = createHash('sha256')
    .update(
      `${stage}\u0000${delivery?.topic ?? input.sourceUrl ?? ''}\u0000${delivery?.key ?? ''}\u0000`,
    )
    .update(bytes)
    .digest('hex')
    .slice(0, 32);

  return {
    id,
    stage,
    code,
    reason,
    recordId: input.recordId ?? (isAletheiaError(error) ? (error.recordId ?? null) : null),
    sourceUrl: input.sourceUrl ?? null,
    originalTopic: delivery?.topic ?? null,
    originalPartition: delivery?.partition ?? null,
    originalOffset: delivery?.offset ?? null,
    originalKey: delivery?.key ?? null,
    originalBytes: bytes,
    failedAt: Date.now(),
  };
}

/** Publishes dead letters to their stages' topics; resolves once they are safe. */
export async function publishDeadLetters(bus: Bus, letters: DeadLetter[]): Promise<void> {
  const byStage = new Map<string, DeadLetter[]>();
  for (const letter of letters) {
    byStage.set(letter.stage, [...(byStage.get(letter.stage) ?? []), letter]);
    recordsDeadLettered.inc({ stage: letter.stage, code: letter.code });
  }

  await Promise.all(
    [...byStage].map(([stage, group]) =>
      bus.publish(
        topics.deadLetter(stage),
        group.map((letter) => ({
          key: letter.id,
          value: codecs.deadLetter.encode(letter),
          headers: {
            'aletheia-stage': letter.stage,
            'aletheia-error-code': letter.code,
            'aletheia-error-message': letter.reason.slice(0, 500),
            ...(letter.originalTopic ? { 'aletheia-original-topic': letter.originalTopic } : {}),
            ...(letter.originalPartition !== null
              ? { 'aletheia-original-partition': String(letter.originalPartition) }
              : {}),
            ...(letter.originalOffset ? { 'aletheia-original-offset': letter.originalOffset } : {}),
          },
        })),
      ),
    ),
  );
}
