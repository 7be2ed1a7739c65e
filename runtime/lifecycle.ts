/**
 * The lifecycle every connector, processor and sink shares: start, run until stopped, stop
 * (draining what is in flight), and report health. `Lifecycle` starts components in order
 * and stops them in reverse, so sinks are ready before processors feed them and sources stop
 * first.
 */
import type { Logger } from './log.ts';

export interface Health {
  ok: boolean;
  /** Why the component is degraded, in a sentence an operator can act on. */
  detail?: string;
}

export interface Component {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  health(): Promise<Health>;
}

export class Lifecycle {
  private readonly components: Component[] = [];
  private readonly log: Logger;

  constructor(log: Logger) {
    this.log = log;
  }

  add(component: Component): void {
    this.components.push(component);
  }

  async start(): Promise<void> {
    for (const component of this.components) {
      await component.start();
      this.log.debug({ component: component.name }, 'component started');
    }
  }

  /** Stops in reverse order; a component that fails to stop does not keep the others running. */
  async stop(): Promise<void> {
    for (const component of [...this.components].reverse()) {
      try {
        await component.stop();
      } catch (err) {
        this.log.error({ err, component: component.name }, 'component failed to stop cleanly');
      }
    }
  }

  async health(): Promise<Record<string, Health>> {
    const entries = await Promise.all(
      this.components.map(async (component) => {
        try {
          return [component.name, await component.health()] as const;
        } catch (err) {
          return [component.name, { ok: false, detail: (err as Error).message }] as const;
        }
      }),
    );

    return Object.fromEntries(entries);
  }
}

/** Resolves after `ms`, or early (without throwing) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });

    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** Capped exponential backoff with jitter, for reconnecting and refetching. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));

  return Math.round(exponential / 2 + Math.random() * (exponential / 2));
}
