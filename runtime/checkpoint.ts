/**
 * Durable checkpoints: a small JSON document per source under `<dataDir>/checkpoints/`.
 * Written to a temporary file, flushed and renamed over the old one, so a crash mid-write
 * leaves the previous checkpoint intact rather than a torn file.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

export class CheckpointStore {
  private readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'checkpoints');
  }

  async load<T>(name: string, fallback: T): Promise<T> {
    try {
      return JSON.parse(await readFile(this.path(name), 'utf8')) as T;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
      throw err;
    }
  }

  async save(name: string, value: unknown): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const target = this.path(name);
    // Unique per call: two saves of one name may overlap, and must not share a file.
    const temporary = `${target}.${process.pid}.${randomUUID()}.tmp`;

    const file = await open(temporary, 'w');
    try {
      await file.writeFile(JSON.stringify(value));
      await file.sync();
    } finally {
      await file.close();
    }

    await rename(temporary, target);
  }

  private path(name: string): string {
    return join(this.dir, `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
  }
}
