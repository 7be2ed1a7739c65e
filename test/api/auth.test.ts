import assert from 'node:assert/strict';
import { test } from 'node:test';

import { authenticate, parseApiKeys } from '../../api/auth.ts';
import { isAletheiaError } from '../../runtime/errors.ts';

test('parses configured keys, with colons inside the secret', () => {
  const [key] = parseApiKeys(['partner:abc:def:ghi:jkl:mno:pqr:read+export']);

  assert.equal(key?.name, 'partner');
  assert.deepEqual([...key!.scopes], ['read', 'export']);
  assert.equal(authenticate([key!], { authorization: 'Bearer abc:def:ghi:jkl:mno:pqr' }), key);
});

test('refuses malformed keys, short secrets and unknown scopes', () => {
  const cases: [string, RegExp][] = [
    ['no-colons-at-all', /expected an API key as name:secret:scope\+scope/],
    [':0123456789abcdef:read', /expected an API key as name/],
    ['analyst:short:read', /API key analyst: the secret must have at least 16 characters/],
    ['analyst:0123456789abcdef:read+owner', /API key analyst: unknown scope 'owner'/],
  ];
  for (const [entry, message] of cases) {
    assert.throws(
      () => parseApiKeys([entry]),
      (err) => isAletheiaError(err, 'CONFIG_INVALID') && message.test(err.message),
      entry,
    );
  }
});

test('finds the key presented by either header and refuses others', () => {
  const keys = parseApiKeys(['a:aaaaaaaaaaaaaaaa:read', 'b:bbbbbbbbbbbbbbbb:export']);

  assert.equal(authenticate(keys, { 'x-api-key': 'bbbbbbbbbbbbbbbb' }).name, 'b');
  assert.equal(authenticate(keys, { authorization: 'bearer aaaaaaaaaaaaaaaa' }).name, 'a');
  for (const headers of [{}, { authorization: 'Basic YTpi' }, { 'x-api-key': 'aaaaaaaaaaaaaaa' }]) {
    assert.throws(
      () => authenticate(keys, headers),
      (err) => isAletheiaError(err, 'API_UNAUTHENTICATED'),
    );
  }
});
