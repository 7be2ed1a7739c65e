/**
 * The schema each topic's values are written with, registered in the schema registry under
 * `<topic>-value` with BACKWARD compatibility, and the writer schemas of older records looked
 * up by id. Registration happens once per topic and process; a refused (incompatible) schema
 * fails the caller, which at start means the process does not start.
 */
import avro from 'avsc';

import { AletheiaError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { SchemaRegistryClient } from './schema-registry.ts';
import { codecForTopic, valueSubject } from './topic-codec.ts';

export interface TopicSchema {
  topic: string;
  subject: string;
  /** Registry id of the schema this process writes and reads the topic with. */
  id: number;
  type: avro.Type;
}

export class TopicSchemas {
  private readonly registry: SchemaRegistryClient;
  private readonly log: Logger;
  private readonly byTopic = new Map<string, Promise<TopicSchema>>();
  private readonly writers = new Map<number, Promise<avro.Type | undefined>>();

  constructor(registry: SchemaRegistryClient, log: Logger) {
    this.registry = registry;
    this.log = log;
  }

  /** Registers the topic's schema (once); a failure is not cached, so the next call retries. */
  ensure(topic: string): Promise<TopicSchema> {
    let pending = this.byTopic.get(topic);
    if (!pending) {
      pending = this.register(topic);
      this.byTopic.set(topic, pending);
      pending.catch(() => this.byTopic.delete(topic));
    }

    return pending;
  }

  /**
   * The type a record was written with, by registry id; undefined when the registry does not
   * know the id or its schema is not Avro this process can parse.
   */
  writer(id: number): Promise<avro.Type | undefined> {
    let pending = this.writers.get(id);
    if (!pending) {
      pending = this.fetchWriter(id);
      this.writers.set(id, pending);
      pending.catch(() => this.writers.delete(id));
    }

    return pending;
  }

  private async register(topic: string): Promise<TopicSchema> {
    const codec = codecForTopic(topic);
    const subject = valueSubject(topic);
    await this.registry.setCompatibility(subject, 'BACKWARD');
    const id = await this.registry.register(subject, codec.schema());
    this.log.info({ topic, subject, schemaId: id }, 'topic schema registered');

    return { topic, subject, id, type: codec.type };
  }

  private async fetchWriter(id: number): Promise<avro.Type | undefined> {
    const text = await this.registry.schemaById(id);
    if (text === undefined) return undefined;

    try {
      return avro.Type.forSchema(JSON.parse(text) as avro.Schema);
    } catch (err) {
      this.log.warn(
        {
          err: new AletheiaError('RECORD_UNSUPPORTED', `schema id ${id} is not Avro`, {
            cause: err,
          }),
        },
        'registry schema cannot be read',
      );

      return undefined;
    }
  }
}
