/**
 * The Confluent wire format of record values on Kafka: a magic byte 0, the 4-byte big-endian
 * registry id of the writer schema, then the Avro binary body. The bus contract carries plain
 * Avro bodies, so the header is added on publish and removed on delivery.
 *
 * On delivery a body written with an older schema of the topic is resolved to the current one
 * (Avro schema resolution: added fields take their defaults) and re-encoded, so handlers only
 * ever see the schema this process writes. A value this code cannot read (no magic byte, an id
 * the registry does not know, a writer schema that does not resolve) is NOT dropped: it is
 * delivered with its bytes unchanged, so the handler's decode fails and dead-letters it with
 * the original bytes. A plain Avro body that happens to start with byte 0 is indistinguishable
 * from a framed one; records on the bus are always framed, so this only matters for records
 * written by other tools.
 */
import type avro from 'avsc';

import { busRecordsPassedThrough } from '../metrics.ts';
import type { TopicSchemas } from './topic-schemas.ts';

export const magicByte = 0;
export const headerBytes = 5;

export function frame(schemaId: number, body: Buffer): Buffer {
  const header = Buffer.allocUnsafe(headerBytes);
  header.writeUInt8(magicByte, 0);
  header.writeUInt32BE(schemaId, 1);

  return Buffer.concat([header, body]);
}

export function unframe(value: Buffer): { schemaId: number; body: Buffer } | undefined {
  if (value.length < headerBytes || value[0] !== magicByte) return undefined;

  return { schemaId: value.readUInt32BE(1), body: value.subarray(headerBytes) };
}

type PassThroughReason = 'unframed' | 'unknown-schema' | 'unresolvable';

export class WireReader {
  private readonly schemas: TopicSchemas;
  /** Resolvers from a writer id to a topic's current type; undefined when they do not resolve. */
  private readonly resolvers = new Map<string, avro.Resolver | undefined>();

  constructor(schemas: TopicSchemas) {
    this.schemas = schemas;
  }

  /**
   * The Avro body of a value in the topic's current schema, or the value unchanged when it
   * cannot be read. Throws only when the registry cannot be reached (worth retrying later).
   */
  async read(topic: string, value: Buffer): Promise<Buffer> {
    const framed = unframe(value);
    if (!framed) return passThrough(topic, value, 'unframed');

    const current = await this.schemas.ensure(topic);
    if (framed.schemaId === current.id) return framed.body;

    const resolver = await this.resolver(framed.schemaId, current.id, current.type);
    if (!resolver) {
      const known = (await this.schemas.writer(framed.schemaId)) !== undefined;

      return passThrough(topic, value, known ? 'unresolvable' : 'unknown-schema');
    }

    try {
      return current.type.toBuffer(current.type.fromBuffer(framed.body, resolver));
    } catch {
      return passThrough(topic, value, 'unresolvable');
    }
  }

  private async resolver(
    writerId: number,
    readerId: number,
    reader: avro.Type,
  ): Promise<avro.Resolver | undefined> {
    const key = `${writerId}>${readerId}`;
    if (this.resolvers.has(key)) return this.resolvers.get(key);

    const writer = await this.schemas.writer(writerId);
    let resolver: avro.Resolver | undefined;
    try {
      resolver = writer ? reader.createResolver(writer) : undefined;
    } catch {
      resolver = undefined;
    }
    this.resolvers.set(key, resolver);

    return resolver;
  }
}

function passThrough(topic: string, value: Buffer, reason: PassThroughReason): Buffer {
  busRecordsPassedThrough.inc({ topic, reason });

  return value;
}
