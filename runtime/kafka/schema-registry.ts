/**
 * A small client for the Confluent schema registry REST API (also served by Apicurio Registry
 * under /apis/ccompat/v7): set a subject's compatibility, register a schema, look a schema up
 * by id. Only Avro schemas without references are used here, so only those are supported.
 */
import { AletheiaError, type ErrorCode } from '../errors.ts';

const contentType = 'application/vnd.schemaregistry.v1+json';

export type Compatibility = 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FULL' | 'NONE';

export interface RegisteredVersion {
  subject: string;
  id: number;
  version: number;
  schema: string;
}

interface RegistryReply {
  status: number;
  body: Record<string, unknown>;
}

export class SchemaRegistryClient {
  readonly url: string;
  private readonly timeoutMs: number;

  constructor(options: { url: string; timeoutMs: number }) {
    this.url = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs;
  }

  async setCompatibility(subject: string, level: Compatibility): Promise<void> {
    const operation = `setting compatibility ${level} on subject ${subject}`;
    const reply = await this.request('PUT', `/config/${encode(subject)}`, operation, {
      compatibility: level,
    });
    if (reply.status !== 200) throw replyError(operation, reply);
  }

  /** Registers a schema under a subject (a no-op returning the id when it is already there). */
  async register(subject: string, schema: object): Promise<number> {
    const operation = `registering a schema under subject ${subject} at ${this.url}`;
    const reply = await this.request('POST', `/subjects/${encode(subject)}/versions`, operation, {
      schema: JSON.stringify(schema),
    });
    if (reply.status === 409) {
      throw new AletheiaError(
        'SCHEMA_INCOMPATIBLE',
        `${operation}: the registry refused it as incompatible with the versions already ` +
          `registered: ${registryMessage(reply)}`,
      );
    }
    if (reply.status !== 200 || typeof reply.body.id !== 'number')
      throw replyError(operation, reply);

    return reply.body.id;
  }

  /** The schema text registered under an id; undefined when the registry does not know it. */
  async schemaById(id: number): Promise<string | undefined> {
    const operation = `looking up schema id ${id} at ${this.url}`;
    const reply = await this.request('GET', `/schemas/ids/${id}`, operation);
    if (reply.status === 404) return undefined;
    if (reply.status !== 200 || typeof reply.body.schema !== 'string') {
      throw replyError(operation, reply);
    }

    return reply.body.schema;
  }

  async latestVersion(subject: string): Promise<RegisteredVersion | undefined> {
    const operation = `reading the latest version of subject ${subject} at ${this.url}`;
    const reply = await this.request(
      'GET',
      `/subjects/${encode(subject)}/versions/latest`,
      operation,
    );
    if (reply.status === 404) return undefined;
    const { id, version, schema } = reply.body;
    if (reply.status !== 200 || typeof id !== 'number' || typeof schema !== 'string') {
      throw replyError(operation, reply);
    }

    return { subject, id, version: Number(version), schema };
  }

  private async request(
    method: string,
    path: string,
    operation: string,
    body?: object,
  ): Promise<RegistryReply> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.url + path, {
        method,
        headers: { accept: `${contentType}, application/json`, 'content-type': contentType },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (err) {
      throw new AletheiaError(
        'SCHEMA_REGISTRY_UNAVAILABLE',
        `${operation}: ${(err as Error).message}`,
        { cause: err },
      );
    }

    let parsed: unknown;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      parsed = { message: text.slice(0, 200) };
    }

    return {
      status: response.status,
      body:
        typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {},
    };
  }
}

function encode(subject: string): string {
  return encodeURIComponent(subject);
}

function registryMessage(reply: RegistryReply): string {
  const message = reply.body.message;

  return typeof message === 'string' ? message : JSON.stringify(reply.body).slice(0, 300);
}

function replyError(operation: string, reply: RegistryReply): AletheiaError {
  const code: ErrorCode =
    reply.status >= 500 || reply.status === 429 ? 'SCHEMA_REGISTRY_UNAVAILABLE' : 'CONFIG_INVALID';

  return new AletheiaError(code, `${operation}: status ${reply.status}: ${registryMessage(reply)}`);
}
