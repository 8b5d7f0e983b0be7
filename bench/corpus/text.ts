// Natural-looking text for the corpora, so that compression ratios are realistic: English-like
// prose from a Zipf-distributed vocabulary (common English words at the head, invented words in the
// tail), people and companies for mail headers, and machine log / CSV lines for the file corpus.
import { Prng } from './prng.ts';

const COMMON = (
  'the of and to a in is it you that he was for on are with as I his they be at one have this from ' +
  'or had by not word but what some we can out other were all there when up use your how said an ' +
  'each she which do their time if will way about many then them write would like so these her long ' +
  'make thing see him two has look more day could go come did number sound no most people my over ' +
  'know water than call first who may down side been now find any new work part take get place made ' +
  'live where after back little only round man year came show every good me give our under name very ' +
  'through just form sentence great think say help low line differ turn cause much mean before move ' +
  'right boy old too same tell does set three want air well also play small end put home read hand ' +
  'port large spell add even land here must big high such follow act why ask men change went light ' +
  'kind off need house picture try us again animal point mother world near build self earth father ' +
  'meeting project team update review budget quarter report customer contract invoice schedule please ' +
  'thanks regards attached document deadline approval proposal agenda call today tomorrow week monday ' +
  'friday client account issue ticket release plan draft feedback question answer office travel ' +
  'discuss confirm available information request order delivery price cost sales marketing finance ' +
  'legal compliance security data system server access password migration training policy'
).split(' ');

const FIRST = (
  'James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard ' +
  'Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony ' +
  'Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth ' +
  'Carol Kevin Amanda Brian Dorothy George Melissa Timothy Deborah Ahmed Fatima Wei Yuki Lars Ingrid ' +
  'Pierre Chiara Mateo Sofia Raj Priya Olga Dmitri'
).split(' ');

const LAST = (
  'Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez ' +
  'Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark ' +
  'Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams ' +
  'Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Schmidt Rossi Tanaka Kowalski Novak Dubois'
).split(' ');

const DOMAINS = [
  'contoso.com',
  'fabrikam.com',
  'northwind.example',
  'adventure-works.example',
  'tailspin.example',
  'wingtip.example',
  'litware.example',
  'proseware.example',
  'fourthcoffee.example',
  'margie.example',
];

const SYLLABLES = (
  'ka to ri me sa lo ne vi da pu ter min gal ros bel tan cor lin mar sel ven dor pra sti quo ex al ' +
  'in on an el ur is ad ob tra con pre pro dis mis sub ver lum gen cap ten ment tion ive ous ic al'
).split(' ');

const VOCAB_SIZE = 6000;
const ZIPF_TABLE_BITS = 16;

function buildVocabulary(): string[] {
  const rng = new Prng('saasbackup-bench-vocabulary');
  const words = [...COMMON];
  const seen = new Set(words);
  while (words.length < VOCAB_SIZE) {
    const n = rng.weighted([
      [2, 4],
      [3, 4],
      [4, 1],
    ] as const);
    let w = '';
    for (let i = 0; i < n; i++) w += rng.pick(SYLLABLES);
    if (!seen.has(w)) {
      seen.add(w);
      words.push(w);
    }
  }
  return words;
}

const VOCAB = buildVocabulary();

// 65,536 word indices drawn by a Zipf law over the vocabulary: sampling one is a table lookup.
const ZIPF_TABLE = ((): Uint16Array => {
  const rng = new Prng('saasbackup-bench-zipf');
  const table = new Uint16Array(1 << ZIPF_TABLE_BITS);
  for (let i = 0; i < table.length; i++) table[i] = rng.zipf(VOCAB.length, 1.07);
  return table;
})();

export interface Person {
  first: string;
  last: string;
  email: string;
  display: string;
}

export function person(rng: Prng, domain?: string): Person {
  const first = rng.pick(FIRST);
  const last = rng.pick(LAST);
  const d = domain ?? rng.pick(DOMAINS);
  const email = `${first}.${last}${rng.chance(0.3) ? String(rng.int(100)) : ''}@${d}`.toLowerCase();
  return { first, last, email, display: `${first} ${last}` };
}

export function domain(rng: Prng): string {
  return rng.pick(DOMAINS);
}

export class TextGen {
  readonly #rng: Prng;

  constructor(rng: Prng) {
    this.#rng = rng;
  }

  word(): string {
    return VOCAB[ZIPF_TABLE[this.#rng.u32() >>> (32 - ZIPF_TABLE_BITS)] ?? 0] ?? 'the';
  }

  /** `n` words separated by spaces. */
  words(n: number): string {
    const out: string[] = new Array<string>(n);
    for (let i = 0; i < n; i++) out[i] = this.word();
    return out.join(' ');
  }

  sentence(): string {
    const n = 4 + this.#rng.int(16);
    let s = this.words(n);
    if (this.#rng.chance(0.15)) s += `, ${this.words(2 + this.#rng.int(6))}`;
    if (this.#rng.chance(0.05)) s += ` ${1 + this.#rng.int(2000)}`;
    const end = this.#rng.weighted([
      ['.', 8],
      ['?', 1],
      ['!', 1],
    ] as const);
    return s.charAt(0).toUpperCase() + s.slice(1) + end;
  }

  paragraph(): string {
    const n = 1 + this.#rng.int(6);
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.sentence());
    return out.join(' ');
  }

  /** Paragraphs adding up to about `bytes` characters. */
  paragraphs(bytes: number): string[] {
    const out: string[] = [];
    let total = 0;
    while (total < bytes) {
      const p = this.paragraph();
      out.push(p);
      total += p.length + 2;
    }
    return out;
  }

  title(): string {
    const s = this.words(2 + this.#rng.int(6));
    return s.charAt(0).toUpperCase() + s.slice(1);
  }
}

/** Wraps a paragraph at `width` columns with CRLF line ends, optionally prefixing each line. */
export function wrap(text: string, width = 76, prefix = ''): string {
  const lines: string[] = [];
  let start = 0;
  const max = width - prefix.length;
  while (text.length - start > max) {
    let cut = text.lastIndexOf(' ', start + max);
    if (cut <= start) cut = start + max;
    lines.push(prefix + text.slice(start, cut));
    start = cut + 1;
  }
  lines.push(prefix + text.slice(start));
  return lines.join('\r\n');
}

/** base64 in 76-column lines with CRLF, as MIME bodies are written. */
export function base64Lines(data: Buffer): string {
  const lines: string[] = [];
  // 57 input bytes are exactly 76 base64 characters.
  for (let off = 0; off < data.length; off += 57 * 1024) {
    const b64 = data.subarray(off, Math.min(off + 57 * 1024, data.length)).toString('base64');
    for (let i = 0; i < b64.length; i += 76) lines.push(b64.slice(i, i + 76));
  }
  return lines.join('\r\n');
}

const LEVELS: readonly (readonly [string, number])[] = [
  ['INFO', 70],
  ['DEBUG', 15],
  ['WARN', 10],
  ['ERROR', 5],
];
const SERVICES = ['api', 'auth', 'billing', 'search', 'worker', 'gateway', 'scheduler', 'mailer'];
const PATHS = ['/api/v1/orders', '/api/v1/users', '/api/v2/search', '/login', '/health', '/api/v1/invoices', '/static/app.js'];
const STATUS = [200, 200, 200, 200, 201, 204, 301, 304, 400, 401, 404, 500];

/** Machine log lines (timestamps, ids, numbers, some prose): compresses about 4-6x, like real logs. */
export function logText(rng: Prng, bytes: number, startMs: number): { text: string; endMs: number } {
  const text = new TextGen(rng);
  const lines: string[] = [];
  let total = 0;
  let t = startMs;
  while (total < bytes) {
    t += rng.int(250);
    const level = rng.weighted(LEVELS);
    const line =
      `${new Date(t).toISOString()} ${level.padEnd(5)} [${rng.pick(SERVICES)}] ` +
      `${rng.pick(PATHS)} status=${rng.pick(STATUS)} latency=${rng.int(900)}ms ` +
      `req=${rng.hex(8)} user=${rng.int(5000)} ${level === 'INFO' ? 'ok' : text.words(3 + rng.int(8))}\n`;
    lines.push(line);
    total += line.length;
  }
  return { text: lines.join(''), endMs: t };
}

/** CSV rows of a business export (dates, amounts, names, codes). */
export function csvText(rng: Prng, bytes: number, header: boolean): string {
  const text = new TextGen(rng);
  const rows: string[] = header ? ['id,date,customer,country,product,quantity,unit_price,total,status,notes\n'] : [];
  let total = 0;
  while (total < bytes) {
    const q = 1 + rng.int(50);
    const price = (rng.int(100000) / 100).toFixed(2);
    const row =
      `${rng.int(10_000_000)},2024-${String(1 + rng.int(12)).padStart(2, '0')}-${String(1 + rng.int(28)).padStart(2, '0')},` +
      `${rng.pick(FIRST)} ${rng.pick(LAST)},${rng.pick(['US', 'DE', 'FR', 'GB', 'JP', 'IN', 'BR'])},SKU-${rng.int(3000)},` +
      `${q},${price},${(q * Number(price)).toFixed(2)},${rng.pick(['open', 'paid', 'shipped', 'cancelled'])},"${text.words(rng.int(6))}"\n`;
    rows.push(row);
    total += row.length;
  }
  return rows.join('');
}
