import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { detectLanguage } from '../../processors/detect-language.ts';

describe('detectLanguage', () => {
  it('tells Portuguese, Spanish and English apart', () => {
    assert.equal(
      detectLanguage(
        'O presidente disse nesta terça-feira que o governo vai enviar ao Congresso uma proposta',
      ),
      'pt',
    );
    assert.equal(
      detectLanguage(
        'El presidente dijo el martes que el gobierno enviará una propuesta al Congreso',
      ),
      'es',
    );
    assert.equal(
      detectLanguage(
        'The president said on Tuesday that the government will send a bill to Congress',
      ),
      'en',
    );
  });

  it('gives no language when the evidence is thin', () => {
    assert.equal(detectLanguage('Lula'), null);
    assert.equal(detectLanguage(''), null);
  });
});
