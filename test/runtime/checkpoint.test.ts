import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { CheckpointStore } from '../../runtime/checkpoint.ts';

test('saves and loads a checkpoint, with a fallback when there is none', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aletheia-checkpoint-'));
  try {
    const store = new CheckpointStore(dir);
    assert.deepEqual(await store.load('feed', { etag: null }), { etag: null });

    await store.save('feed', { etag: '"abc"', delivered: ['a', 'b'] });
    assert.deepEqual(await store.load('feed', null), { etag: '"abc"', delivered: ['a', 'b'] });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('overlapping saves of one name both succeed and leave no temporary file', async () => {
  // Two saves once shared a temporary file: the second rename failed with ENOENT.
  const dir = await mkdtemp(join(tmpdir(), 'aletheia-checkpoint-'));
  try {
    const store = new CheckpointStore(dir);
    await Promise.all(Array.from({ length: 8 }, (_, n) => store.save('entity-index', { n })));

    const { n } = await store.load('entity-index', { n: -1 });
    assert.ok(n >= 0 && n < 8);
    assert.deepEqual(await readdir(join(dir, 'checkpoints')), ['entity-index.json']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
