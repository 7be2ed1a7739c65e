import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Dedupe } from '../../processors/dedupe.ts';

describe('Dedupe', () => {
  it('drops a replay, passes an update and marks a copy of known content', () => {
    const dedupe = new Dedupe();
    assert.deepEqual(dedupe.check({ id: 'a', contentHash: 'h1' }), {
      action: 'pass',
      duplicateOf: null,
    });
    dedupe.remember([{ id: 'a', contentHash: 'h1' }]);

    assert.deepEqual(dedupe.check({ id: 'a', contentHash: 'h1' }), {
      action: 'drop',
      reason: 'duplicate',
    });
    assert.deepEqual(dedupe.check({ id: 'a', contentHash: 'h2' }), {
      action: 'pass',
      duplicateOf: null,
    });
    assert.deepEqual(dedupe.check({ id: 'b', contentHash: 'h1' }), {
      action: 'pass',
      duplicateOf: 'a',
    });
  });

  it('does not treat a record as seen before it was remembered', () => {
    // A batch redelivered after a failed publish must pass again, not be dropped as its own copy.
    const dedupe = new Dedupe();
    dedupe.check({ id: 'a', contentHash: 'h1' });

    assert.equal(dedupe.check({ id: 'a', contentHash: 'h1' }).action, 'pass');
  });

  it('forgets the least recently seen records past its bound', () => {
    const dedupe = new Dedupe(2);
    dedupe.remember([
      { id: 'a', contentHash: 'h1' },
      { id: 'b', contentHash: 'h2' },
      { id: 'c', contentHash: 'h3' },
    ]);

    assert.equal(dedupe.check({ id: 'a', contentHash: 'h1' }).action, 'pass');
    assert.equal(dedupe.check({ id: 'c', contentHash: 'h3' }).action, 'drop');
  });

  it('lets the latest version within a batch count over what was remembered', () => {
    // X:H2 passed earlier; a batch with X:H1 then X:H2 once dropped H2 and stored the older H1.
    const dedupe = new Dedupe();
    dedupe.remember([{ id: 'x', contentHash: 'h2' }]);
    const batch = new Dedupe();

    assert.equal(dedupe.check({ id: 'x', contentHash: 'h1' }, batch).action, 'pass');
    batch.remember([{ id: 'x', contentHash: 'h1' }]);
    assert.equal(dedupe.check({ id: 'x', contentHash: 'h2' }, batch).action, 'pass');
    batch.remember([{ id: 'x', contentHash: 'h2' }]);
    assert.equal(dedupe.check({ id: 'x', contentHash: 'h2' }, batch).action, 'drop');
  });

  it('marks a copy of content first seen earlier in the same batch', () => {
    const dedupe = new Dedupe();
    dedupe.remember([{ id: 'old', contentHash: 'h0' }]);
    const batch = new Dedupe();
    batch.remember([{ id: 'a', contentHash: 'h1' }]);

    assert.deepEqual(dedupe.check({ id: 'b', contentHash: 'h1' }, batch), {
      action: 'pass',
      duplicateOf: 'a',
    });
    assert.deepEqual(dedupe.check({ id: 'c', contentHash: 'h0' }, batch), {
      action: 'pass',
      duplicateOf: 'old',
    });
  });
});
