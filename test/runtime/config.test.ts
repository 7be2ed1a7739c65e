import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { describeConfig, loadConfig } from '../../runtime/config.ts';
import { isAletheiaError } from '../../runtime/errors.ts';

describe('loadConfig', () => {
  it('fills defaults and honours PORT', () => {
    const config = loadConfig({ PORT: '9000' });

    assert.equal(config.port, 9000);
    assert.equal(config.clickhouseUrl, undefined);
    assert.equal(config.allowPrivateNetworks, false);
    assert.ok(config.feeds.length > 0);
  });

  it('parses lists and flags', () => {
    const config = loadConfig({
      ALETHEIA_FEEDS: 'https://a.example/feed, https://b.example/rss',
      ALETHEIA_ALLOW_PRIVATE_NETWORKS: 'true',
      ALETHEIA_TRACKED_ENTITIES: 'Q1,Q42',
    });

    assert.deepEqual(config.feeds, ['https://a.example/feed', 'https://b.example/rss']);
    assert.equal(config.allowPrivateNetworks, true);
    assert.deepEqual(config.trackedEntities, ['Q1', 'Q42']);
  });

  it('refuses unknown variables and invalid values, naming each', () => {
    assert.throws(
      () => loadConfig({ ALETHEIA_FEED: 'https://a.example' }),
      (err) => isAletheiaError(err, 'CONFIG_INVALID') && /ALETHEIA_FEED\b/.test(err.message),
    );
    assert.throws(
      () => loadConfig({ PORT: 'eighty', ALETHEIA_TRACKED_ENTITIES: 'Q1,abc' }),
      (err) =>
        isAletheiaError(err, 'CONFIG_INVALID') &&
        /PORT/.test(err.message) &&
        /expected a QID like Q42/.test(err.message),
    );
  });

  it('documents every variable it reads', () => {
    const variables = describeConfig().map((entry) => entry.variable);

    assert.ok(variables.includes('PORT'));
    assert.ok(describeConfig().every((entry) => entry.description.length > 10));
  });
});
