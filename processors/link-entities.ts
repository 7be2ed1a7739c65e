/**
 * Links text to tracked Wikidata entities: every label and alias of a tracked entity (in
 * Portuguese and English) is searched for as a whole word, ignoring case and accents. The
 * result is one mention per entity, with how often it is named and the form first used.
 *
 * Limits: matching is lexical. A name shared by two tracked entities links both, and an
 * alias that is also a common word ("Moro") links wherever the word appears; names shorter
 * than three letters are ignored for that reason.
 */
import type { EntityMention, WikidataEntity } from '../schemas/types.ts';
import { fold, foldName } from './text-match.ts';

const minNameLength = 3;

interface Names {
  qid: string;
  names: string[];
}

export class EntityIndex {
  private readonly tracked: ReadonlySet<string>;
  private readonly entities = new Map<string, Names>();
  private pattern: RegExp | null = null;
  private owners = new Map<string, string[]>();

  constructor(trackedQids: readonly string[]) {
    this.tracked = new Set(trackedQids);
  }

  /** Adds or replaces an entity's names; entities that are not tracked are ignored. */
  update(entity: Pick<WikidataEntity, 'qid' | 'labels' | 'aliases'>): boolean {
    if (!this.tracked.has(entity.qid)) return false;

    const names = [...Object.values(entity.labels), ...entity.aliases]
      .map(foldName)
      .filter((name) => [...name].length >= minNameLength);
    this.entities.set(entity.qid, { qid: entity.qid, names: [...new Set(names)] });
    this.pattern = null;

    return true;
  }

  /** Tracked QIDs whose names are known. */
  known(): string[] {
    return [...this.entities.keys()];
  }

  /** Whether every tracked entity's names are known. */
  complete(): boolean {
    return this.entities.size === this.tracked.size;
  }

  snapshot(): Names[] {
    return [...this.entities.values()];
  }

  restore(snapshot: Names[]): void {
    for (const entry of snapshot) {
      if (this.tracked.has(entry.qid)) this.entities.set(entry.qid, entry);
    }
    this.pattern = null;
  }

  /** Mentions of tracked entities in the given texts, ordered by QID. */
  link(texts: (string | null | undefined)[]): EntityMention[] {
    const pattern = this.compile();
    if (!pattern) return [];

    const found = new Map<string, EntityMention>();
    for (const text of texts) {
      if (!text) continue;
      const { folded, origin } = fold(text);
      for (const match of folded.matchAll(pattern)) {
        const start = match.index;
        const original = text.slice(origin[start], origin[start + match[0].length]);
        for (const qid of this.owners.get(match[0].replace(/\s+/g, ' ')) ?? []) {
          const mention = found.get(qid);
          if (mention) mention.count += 1;
          else found.set(qid, { qid, matchedText: original, count: 1 });
        }
      }
    }

    return [...found.values()].sort((a, b) => a.qid.localeCompare(b.qid));
  }

  /** One alternation of every name, longest first so "Lula da Silva" wins over "Lula". */
  private compile(): RegExp | null {
    if (this.pattern) return this.pattern;

    this.owners = new Map();
    for (const { qid, names } of this.entities.values()) {
      for (const name of names) this.owners.set(name, [...(this.owners.get(name) ?? []), qid]);
    }
    if (this.owners.size === 0) return null;

    const alternatives = [...this.owners.keys()]
      .sort((a, b) => b.length - a.length)
      .map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '\\s+'));
    const boundary = '[\\p{L}\\p{N}]';
    this.pattern = new RegExp(`(?<!${boundary})(?:${alternatives.join('|')})(?!${boundary})`, 'gu');

    return this.pattern;
  }
}
