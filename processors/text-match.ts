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

const combiningMarks = /\p{M}/gu;

/** Folded forms of the non-ASCII characters met so far: few distinct ones occur in news. */
const foldedChars = new Map<string, string>();

function foldChar(char: string): string {
  let folded = foldedChars.get(char);
  if (folded === undefined) {
    folded = char.normalize('NFD').replace(combiningMarks, '').toLowerCase();
    foldedChars.set(char, folded);
  }

  return folded;
}

export function fold(text: string): FoldedText {
  let folded = '';
  const origin: number[] = [];
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    // ASCII, nearly every character of the texts, folds to itself in lower case.
    if (code < 0x80) {
      folded += code >= 0x41 && code <= 0x5a ? String.fromCharCode(code + 0x20) : text[index];
      origin.push(index);
      continue;
    }

    const next = text.charCodeAt(index + 1);
    const pair = code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff;
    const part = foldChar(pair ? text.slice(index, index + 2) : text[index]!);
    folded += part;
    for (let i = 0; i < part.length; i++) origin.push(index);
    if (pair) index++;
  }
  origin.push(text.length);

  return { folded, origin };
}

export function foldName(name: string): string {
  return fold(name).folded.replace(/\s+/g, ' ').trim();
}
