import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';

import { describeConfig } from '../runtime/config.ts';

it('documents every configuration variable in the README', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const missing = describeConfig()
    .map((entry) => entry.variable)
    .filter((variable) => !readme.includes(`\`${variable}\``));

  assert.deepEqual(missing, [], 'add these variables to the configuration table of README.md');
});
