/**
 * Language of a text when its source does not say: Portuguese, Spanish or English, by
 * counting frequent function words. Short texts with too little evidence get no language
 * rather than a guess.
 */

const stopwords: Record<string, ReadonlySet<string>> = {
  pt: wordSet(
    'o a os as de do da dos das em no na nos nas um uma que com não por para se ao aos mais ' +
      'como foi são está também pelo pela entre após sobre seu sua ele ela isso já há',
  ),
  es: wordSet(
    'el la los las de del en un una que con no por para se al más como fue son está también ' +
      'pero sobre su sus entre tras ya hay muy',
  ),
  en: wordSet(
    'the a an of to in and that is was for on with as by at from it be are this have has ' +
      'not but which were their after about',
  ),
};

const minEvidence = 3;

function wordSet(words: string): ReadonlySet<string> {
  return new Set(words.split(' '));
}

export function detectLanguage(text: string): string | null {
  const words = text.toLowerCase().match(/\p{L}+/gu) ?? [];
  let best: string | null = null;
  let bestScore = 0;
  let runnerUp = 0;
  for (const [language, set] of Object.entries(stopwords)) {
    let score = 0;
    for (const word of words) if (set.has(word)) score += 1;
    if (score > bestScore) {
      runnerUp = bestScore;
      best = language;
      bestScore = score;
    } else if (score > runnerUp) {
      runnerUp = score;
    }
  }

  return bestScore >= minEvidence && bestScore > runnerUp * 1.5 ? best : null;
}
