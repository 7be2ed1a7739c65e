/**
 * Folding text for matching names: lower case, accents removed, so "Lula", "LULA" and
 * "Lulá" compare equal, while keeping a map back to the original text so a match can be
 * reported as it was written.
 */

export interface FoldedText {
  folded: string;
  /** For each index in `folded`, the index in the original text it came from. */
  origin: number[];
}

const combiningMarks = /\p{M}/u;

export function fold(text: string): FoldedText {
  let folded = '';
  const origin: number[] = [];
  let index = 0;
  for (const char of text) {
    for (const part of char.normalize('NFD')) {
      if (combiningMarks.test(part)) continue;
      const lower = part.toLowerCase();
      folded += lower;
      for (let i = 0; i < lower.length; i++) origin.push(index);
    }
    index += char.length;
  }
  origin.push(index);

  return { folded, origin };
}

export function foldName(name: string): string {
  return fold(name).folded.replace(/\s+/g, ' ').trim();
}
