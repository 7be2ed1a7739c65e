/**
 * Replaying dead letters: each chosen record is published again, with its original key and
 * bytes, onto the topic it was first read from, after the cause was fixed (a normaliser
 * bug, a schema change). Dead letters of a source fetch (a malformed feed) have no topic:
 * the source is fetched again on its next poll, so they are reported as not replayable.
 */
import type { Bus } from '../runtime/bus.ts';
import { allTopics } from '../schemas/topics.ts';
import type { AnalyticsStore } from '../sinks/clickhouse/client.ts';
import { readDeadLetters } from '../sinks/clickhouse/dead-letters.ts';

export interface ReplayResult {
  id: string;
  replayed: boolean;
  /** Topic the record was published to, or why it was not. */
  detail: string;
}

export async function replayDeadLetters(
  store: AnalyticsStore,
  bus: Bus,
  ids: string[],
): Promise<ReplayResult[]> {
  const found = new Map((await readDeadLetters(store, ids)).map((letter) => [letter.id, letter]));
  const known = new Set(allTopics());

  return Promise.all(
    ids.map(async (id): Promise<ReplayResult> => {
      const letter = found.get(id);
      if (!letter) return { id, replayed: false, detail: 'no dead letter with this id' };

      const topic = letter.originalTopic;
      if (!topic || !known.has(topic)) {
        return {
          id,
          replayed: false,
          detail:
            `dead-lettered by ${letter.stage} while fetching, not read from a topic: ` +
            'the source is fetched again on its next poll',
        };
      }

      await bus.publish(topic, [{ key: letter.originalKey ?? id, value: letter.originalBytes }]);

      return { id, replayed: true, detail: topic };
    }),
  );
}
