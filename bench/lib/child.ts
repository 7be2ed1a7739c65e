/**
 * Runs one measurement in a child process of its own, so each run starts from a cold heap,
 * opens its own chDB data directory (one per process) and reports its own peak resident
 * memory. Parent and child talk over the IPC channel: the child sends `ready` messages while
 * it works and exactly one `result` (or `error`) at the end.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type Message =
  | { type: 'ready'; [key: string]: unknown }
  | { type: 'result'; [key: string]: unknown }
  | { type: 'error'; message: string };

export interface Child {
  /** The next message the child sent, in order. */
  next(): Promise<Message>;
  send(message: unknown): void;
  /** Resolves when the child exited; rejects when it exited with a failure. */
  exited: Promise<void>;
}

export function startChild(script: URL, args: string[], execArgv: string[] = []): Child {
  const child: ChildProcess = fork(fileURLToPath(script), args, {
    execArgv: ['--expose-gc', ...execArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const queue: Message[] = [];
  const waiting: { resolve: (message: Message) => void; reject: (err: Error) => void }[] = [];
  let failure: Error | undefined;

  child.on('message', (message: Message) => {
    const waiter = waiting.shift();
    if (waiter) waiter.resolve(message);
    else queue.push(message);
  });

  const exited = new Promise<void>((resolve, reject) => {
    child.once('close', (code, signal) => {
      const how = code === 0 ? 'without a result' : `with ${signal ?? code}`;
      failure = new Error(`${script.pathname} ${args.join(' ')} exited ${how}`);
      for (const waiter of waiting.splice(0)) waiter.reject(failure);
      if (code === 0) return resolve();

      reject(failure);
    });
  });
  exited.catch(() => {});

  return {
    next() {
      const message = queue.shift();
      if (message) return Promise.resolve(message);
      if (failure) return Promise.reject(failure);

      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    send(message) {
      child.send(message as object);
    },
    exited,
  };
}

/** Waits for the child's one result and its exit; an `error` message becomes a throw. */
export async function resultOf<T>(child: Child): Promise<T> {
  const message = await child.next();
  if (message.type === 'error') throw new Error(message.message);
  await child.exited;

  return message as unknown as T;
}

/** In a child: sends a message to the parent and waits until it is handed over. */
export function report(message: Message): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error('expected to run as a child of a benchmark'));
    process.send(message, (err: Error | null) => (err ? reject(err) : resolve()));
  });
}

/** In a child: the next message from the parent. */
export function received(): Promise<unknown> {
  return new Promise((resolve) => process.once('message', resolve));
}

/** Peak resident memory of this process so far, in bytes. */
export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}
