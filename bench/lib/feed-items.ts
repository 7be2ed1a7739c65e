/**
 * Synthetic but realistic input for the pipeline benchmark: news feed items from Brazilian
 * political feeds, shaped exactly as the RSS connector publishes them on raw.rss (a RawRecord
 * whose body is the item's JSON, see ingest/rss/parse.ts), and the raw Wikidata entities of
 * the two tracked politicians they mention. Deterministic: the same count gives the same
 * records, so runs in separate processes see identical input.
 */
import { FEED_ITEM_CONTENT_TYPE } from '../../ingest/rss.ts';
import type { FeedItem } from '../../ingest/rss/parse.ts';
import { wikidataEntityContentType } from '../../ingest/wikidata.ts';
import { canonicalId } from '../../schemas/identity.ts';
import type { RawRecord } from '../../schemas/types.ts';

export const trackedQids = ['Q37181', 'Q10304982'];

interface Feed {
  url: string;
  title: string;
  site: string;
  /** Feeds without a language make the stage detect it. */
  language?: string;
}

const feeds: Feed[] = [
  { url: 'https://g1.example.com.br/rss/politica/', title: 'g1 > Política', site: 'g1' },
  { url: 'https://folha.example.com.br/poder/rss091.xml', title: 'Folha - Poder', site: 'folha' },
  {
    url: 'https://agencia.example.gov.br/rss/politica.xml',
    title: 'Agência - Política',
    site: 'ag',
  },
  { url: 'https://estadao.example.com.br/politica/', title: 'Estadão Política', site: 'est' },
  { url: 'https://poder.example.com.br/feed/', title: 'Poder360', site: 'p360' },
  { url: 'https://uol.example.com.br/politica/index.xml', title: 'UOL Política', site: 'uol' },
].map((feed, i) => (i % 3 === 2 ? feed : { ...feed, language: 'pt-BR' }));

const openings = [
  'O presidente Lula',
  'O ex-presidente Jair Bolsonaro',
  'A Câmara dos Deputados',
  'O Senado Federal',
  'O Supremo Tribunal Federal',
  'O ministro da Fazenda',
  'A oposição',
  'O Tribunal Superior Eleitoral',
  'Luiz Inácio Lula da Silva',
  'A bancada do agronegócio',
  'O governo federal',
  'Bolsonaro',
];

const actions = [
  'anunciou nesta terça-feira um pacote de medidas para',
  'criticou duramente a proposta que pretende',
  'aprovou em primeiro turno o texto que busca',
  'adiou a votação do projeto que deve',
  'defendeu em entrevista coletiva a necessidade de',
  'recorreu da decisão que obrigava o Executivo a',
  'negociou com líderes partidários um acordo para',
  'enviou ao Congresso uma proposta para',
];

const objects = [
  'reduzir o déficit das contas públicas até o fim do ano',
  'ampliar o acesso ao crédito para pequenas empresas do Nordeste',
  'reformar as regras de financiamento das campanhas eleitorais',
  'rever a política de preços dos combustíveis',
  'garantir o reajuste do salário mínimo acima da inflação',
  'limitar o pagamento de emendas parlamentares sem transparência',
  'criar um fundo de combate às queimadas na Amazônia',
  'alterar a tributação sobre o consumo e a renda',
];

const details = [
  'Segundo aliados, a expectativa é de que o tema volte à pauta na próxima semana.',
  'Parlamentares da base governista afirmam que o texto ainda pode sofrer mudanças.',
  'A medida foi recebida com cautela pelo mercado financeiro, que aguarda detalhes.',
  'Em nota, a assessoria informou que todas as exigências legais foram cumpridas.',
  'Especialistas ouvidos pela reportagem apontam riscos jurídicos na proposta.',
  'O relator disse que pretende apresentar o parecer antes do recesso parlamentar.',
  'Lula afirmou que não vai abrir mão do compromisso com a responsabilidade fiscal.',
  'Bolsonaro disse a apoiadores que pretende recorrer da decisão ao plenário.',
  'A votação foi marcada por protestos de manifestantes na Esplanada dos Ministérios.',
  'De acordo com dados do Tesouro Nacional, o impacto estimado é de R$ 12 bilhões.',
];

const authors = ['Redação', 'Ana Souza, Brasília', 'Carlos Pereira', 'Mariana Lima, São Paulo'];

const categories = ['Política', 'Economia', 'Congresso', 'Eleições', 'Justiça', 'Governo Lula'];

/** A small seeded generator (mulberry32): the same seed always gives the same sequence. */
function random(seed: number): () => number {
  let state = seed >>> 0;

  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);

    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(next: () => number, list: readonly T[]): T =>
  list[Math.floor(next() * list.length)]!;

/** One item: a headline, a description of two to five sentences as markup, an image. */
function feedItem(n: number, feed: Feed, next: () => number, publishedMs: number): FeedItem {
  const slug = `materia-${n.toString(36)}`;
  const link = `${new URL(feed.url).origin}/politica/noticia/2026/${slug}.ghtml`;
  const title = `${pick(next, openings)} ${pick(next, actions)} ${pick(next, objects)}`;
  const sentences = [`${title}.`];
  const count = 2 + Math.floor(next() * 4);
  for (let i = 0; i < count; i += 1) sentences.push(pick(next, details));
  const text = `${sentences.join(' ')} (Matéria ${n}.)`;
  const image = `${new URL(feed.url).origin}/imagens/${slug}.jpg`;
  const date = new Date(publishedMs);

  return {
    title,
    link,
    guid: n % 4 === 0 ? `${feed.site}-${n}` : link,
    isoDate: date.toISOString(),
    pubDate: date.toUTCString(),
    creator: pick(next, authors),
    content: `<img src="${image}" /><br />${text.replaceAll('Câmara', '<b>Câmara</b>')}`,
    contentSnippet: text,
    categories: [pick(next, categories), pick(next, categories)],
    enclosure: { url: image, type: 'image/jpeg', length: String(20_000 + n) },
  };
}

/** `count` raw feed item records, spread over the feeds, one minute apart. */
export function generateFeedItems(
  count: number,
  fetchedAt = Date.UTC(2026, 11, 1, 12),
): RawRecord[] {
  const next = random(20261201);
  const records: RawRecord[] = [];
  for (let n = 0; n < count; n += 1) {
    const feed = feeds[n % feeds.length]!;
    const item = feedItem(n, feed, next, fetchedAt - (count - n) * 60_000);
    const nativeId = item.guid!;
    const context: Record<string, string> = {
      feedUrl: feed.url,
      feedFormat: 'rss',
      charset: 'utf-8',
      feedTitle: feed.title,
    };
    if (feed.language) context.feedLanguage = feed.language;

    records.push({
      id: canonicalId('rss', nativeId),
      source: 'rss',
      nativeId,
      sourceUrl: feed.url,
      fetchedAt,
      contentType: FEED_ITEM_CONTENT_TYPE,
      body: Buffer.from(JSON.stringify(item)),
      context,
    });
  }

  return records;
}

/** Raw records of the tracked entities, in the reduced wbgetentities shape the connector sends. */
export function trackedEntityRecords(fetchedAt = Date.UTC(2026, 11, 1, 11)): RawRecord[] {
  const entities = [
    { qid: 'Q37181', label: 'Luiz Inácio Lula da Silva', aliases: ['Lula', 'Lula da Silva'] },
    { qid: 'Q10304982', label: 'Jair Bolsonaro', aliases: ['Bolsonaro', 'Jair Messias Bolsonaro'] },
  ];

  return entities.map(({ qid, label, aliases }) => ({
    id: canonicalId('wikidata', qid),
    source: 'wikidata',
    nativeId: qid,
    sourceUrl: `https://www.wikidata.org/wiki/${qid}`,
    fetchedAt,
    contentType: wikidataEntityContentType,
    body: Buffer.from(
      JSON.stringify({
        id: qid,
        type: 'item',
        lastrevid: 2_418_823_117,
        modified: '2026-11-28T14:02:11Z',
        labels: { 'pt-br': { language: 'pt-br', value: label } },
        descriptions: { 'pt-br': { language: 'pt-br', value: 'político brasileiro' } },
        aliases: { 'pt-br': aliases.map((value) => ({ language: 'pt-br', value })) },
        claims: {},
        sitelinks: {},
      }),
    ),
    context: {},
  }));
}
