// The mail corpus: one directory per mailbox, folders inside it (Inbox, Sent Items, ...), one .eml
// file per message. Messages are realistic MIME: long Exchange-style headers, a text/plain and a
// bloated text/html alternative, quoted replies, and base64 attachments (PDF/JPEG/Office files
// mostly incompressible, CSV/ICS text compressible). Some attachments come from a shared pool and
// are embedded byte for byte in messages of many mailboxes (the all-hands deck, the newsletter).
//
// Sizes: median message about 12 KiB, from 2 KiB notifications to a tail of attachment-laden
// messages of a few MiB (attachments capped at 4 MiB raw, about 5.4 MiB encoded).
//
// Everything is a function of the seed: mailbox i draws from Prng(`${seed}/mail/mailbox/${i}`),
// shared attachment k from `${seed}/mail/shared/${k}`, so the same seed gives the same bytes.
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Prng, randomBytesFor } from './prng.ts';
import { base64Lines, csvText, domain as pickDomain, person, TextGen, wrap } from './text.ts';
import type { Person } from './text.ts';
import { listFiles, sizePercentiles, totals } from './walk.ts';

export const DEFAULT_MAIL_ITEMS = 50_000;
/** Average messages per mailbox (mailbox sizes vary around it). */
const MESSAGES_PER_MAILBOX = 250;
const KiB = 1024;
const MiB = 1024 * KiB;
const MAX_ATTACHMENT = 4 * MiB;

const FOLDERS: readonly (readonly [string, number])[] = [
  ['Inbox', 58],
  ['Sent Items', 18],
  ['Archive', 10],
  ['Deleted Items', 4],
  ['Inbox/Projects', 6],
  ['Inbox/Newsletters', 4],
];

export interface MailCorpusOptions {
  dir: string;
  /** Number of messages in the first version. */
  items: number;
  seed: string;
}

export interface MailCorpusStats {
  items: number;
  bytes: number;
  mailboxes: number;
  messagesWithAttachments: number;
  attachments: number;
  sharedAttachmentUses: number;
  sharedPool: { attachments: number; rawBytes: number };
  messageSize: ReturnType<typeof sizePercentiles>;
  generationSeconds: number;
}

export interface MailChangeStats {
  added: number;
  changed: number;
  deleted: number;
  items: number;
  bytes: number;
  generationSeconds: number;
}

function mailboxName(i: number): string {
  return `mbx-${String(i + 1).padStart(4, '0')}`;
}

function mailboxCount(items: number): number {
  return Math.max(1, Math.round(items / MESSAGES_PER_MAILBOX));
}

function sharedPoolSize(items: number): number {
  return Math.max(8, Math.round(items / 500));
}

function ownerOf(seed: string, mailbox: number): Person {
  const rng = new Prng(`${seed}/mail/owner/${mailbox}`);
  return person(rng, 'contoso.com');
}

/** Messages per mailbox: log-normal weights, every mailbox at least one message. */
function allocate(seed: string, items: number): number[] {
  const n = Math.min(mailboxCount(items), items);
  const rng = new Prng(`${seed}/mail/allocation`);
  const weights = Array.from({ length: n }, () => rng.logNormal(1, 0.7));
  const sum = weights.reduce((a, b) => a + b, 0);
  const counts = weights.map((w) => Math.max(1, Math.floor(((items - n) * w) / sum) + 1));
  let left = items - counts.reduce((a, b) => a + b, 0);
  for (let i = 0; left !== 0; i = (i + 1) % n) {
    const c = counts[i] ?? 0;
    if (left > 0) {
      counts[i] = c + 1;
      left--;
    } else if (c > 1) {
      counts[i] = c - 1;
      left++;
    }
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------
// Attachments

interface Attachment {
  filename: string;
  contentType: string;
  /** base64 in 76-column CRLF lines. */
  body: string;
  rawSize: number;
}

type Kind = 'pdf' | 'jpg' | 'png' | 'docx' | 'xlsx' | 'pptx' | 'csv' | 'txt' | 'ics';

const KINDS: readonly (readonly [Kind, number])[] = [
  ['pdf', 34],
  ['jpg', 22],
  ['png', 5],
  ['docx', 10],
  ['xlsx', 8],
  ['pptx', 5],
  ['csv', 7],
  ['txt', 3],
  ['ics', 6],
];

const CONTENT_TYPES: Record<Kind, string> = {
  pdf: 'application/pdf',
  jpg: 'image/jpeg',
  png: 'image/png',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  csv: 'text/csv',
  txt: 'text/plain',
  ics: 'text/calendar',
};

/** Raw attachment bytes: binary formats are a small header/structure around incompressible data. */
function attachmentBytes(kind: Kind, size: number, rng: Prng, label: string): Buffer {
  const text = new TextGen(rng);
  switch (kind) {
    case 'pdf': {
      // ~10% text objects (compressible), the rest compressed streams (random).
      const head = `%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n`;
      const objects: string[] = [head];
      let textBytes = head.length;
      let n = 3;
      while (textBytes < size * 0.1) {
        const o = `${n++} 0 obj\n<< /Length 512 >>\nstream\nBT /F1 11 Tf 72 ${700 - rng.int(600)} Td (${text.sentence()}) Tj ET\nendstream\nendobj\n`;
        objects.push(o);
        textBytes += o.length;
      }
      const headBuf = Buffer.from(objects.join(''), 'latin1');
      const tail = Buffer.from('\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n', 'latin1');
      const body = randomBytesFor(label, Math.max(0, size - headBuf.length - tail.length));
      return Buffer.concat([headBuf, body, tail]);
    }
    case 'jpg': {
      const head = Buffer.from([
        0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x48, 0x00, 0x48, 0x00, 0x00,
      ]);
      return Buffer.concat([head, randomBytesFor(label, Math.max(0, size - head.length - 2)), Buffer.from([0xff, 0xd9])]);
    }
    case 'png': {
      const head = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      return Buffer.concat([head, randomBytesFor(label, Math.max(0, size - head.length))]);
    }
    case 'docx':
    case 'xlsx':
    case 'pptx': {
      // A zip: deflated members (random) and a central directory of names (text) at the end.
      const names: string[] = [];
      for (let i = 0; i < 20 + rng.int(40); i++) names.push(`PK\x01\x02word/media/${text.word()}${i}.xml\0\0\0\0`);
      const dir = Buffer.from(names.join(''), 'latin1');
      const head = Buffer.from('PK\x03\x04\x14\x00\x06\x00', 'latin1');
      return Buffer.concat([head, randomBytesFor(label, Math.max(0, size - head.length - dir.length)), dir]).subarray(
        0,
        Math.max(size, head.length),
      );
    }
    case 'csv':
      return Buffer.from(csvText(rng, size, true).slice(0, size), 'latin1');
    case 'txt':
      return Buffer.from(text.paragraphs(size).join('\n\n').slice(0, size), 'latin1');
    case 'ics': {
      const ics =
        'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\r\nMETHOD:REQUEST\r\n' +
        'BEGIN:VEVENT\r\n' +
        `DESCRIPTION;LANGUAGE=en-US:${wrap(text.paragraphs(size - 600).join('\\n\\n'), 75, ' ').trimStart()}\r\n` +
        `UID:${rng.hex(32)}\r\nSUMMARY:${text.title()}\r\nDTSTART:20240${1 + rng.int(9)}1${rng.int(10)}T${10 + rng.int(8)}0000Z\r\n` +
        'END:VEVENT\r\nEND:VCALENDAR\r\n';
      return Buffer.from(ics, 'latin1');
    }
  }
}

function attachmentSize(kind: Kind, rng: Prng, median: number, sigma: number): number {
  if (kind === 'ics') return rng.between(2 * KiB, 8 * KiB);
  if (kind === 'csv' || kind === 'txt') return Math.round(Math.min(MiB, Math.max(KiB, rng.logNormal(median / 2, sigma))));
  return Math.round(Math.min(MAX_ATTACHMENT, Math.max(6 * KiB, rng.logNormal(median, sigma))));
}

function makeAttachment(rng: Prng, label: string, median: number, sigma: number): Attachment {
  const kind = rng.weighted(KINDS);
  const size = attachmentSize(kind, rng, median, sigma);
  const raw = attachmentBytes(kind, size, rng, label);
  const text = new TextGen(rng);
  const filename = `${text.words(1 + rng.int(3)).replaceAll(' ', '_')}${rng.chance(0.4) ? `_${2018 + rng.int(7)}` : ''}.${kind}`;
  return { filename, contentType: CONTENT_TYPES[kind], body: base64Lines(raw), rawSize: raw.length };
}

/** Attachments shared between mailboxes, generated on first use and kept (encoded) in memory. */
class SharedPool {
  readonly size: number;
  readonly #seed: string;
  readonly #cache = new Map<number, Attachment>();

  constructor(seed: string, size: number) {
    this.#seed = seed;
    this.size = size;
  }

  get(k: number): Attachment {
    let a = this.#cache.get(k);
    if (a === undefined) {
      const rng = new Prng(`${this.#seed}/mail/shared/${k}`);
      // Shared files are the bigger ones: decks, reports, newsletters (median 250 KiB).
      a = makeAttachment(rng, `${this.#seed}/mail/shared/${k}`, 250 * KiB, 0.9);
      this.#cache.set(k, a);
    }
    return a;
  }

  rawBytes(): number {
    let sum = 0;
    for (const a of this.#cache.values()) sum += a.rawSize;
    return sum;
  }

  used(): number {
    return this.#cache.size;
  }
}

// ---------------------------------------------------------------------------------------------
// Messages

interface MessageContext {
  rng: Prng;
  owner: Person;
  folder: string;
  date: Date;
  shared: SharedPool;
  /** Label for this message's incompressible bytes. */
  label: string;
}

interface Message {
  data: Buffer;
  attachments: number;
  sharedUses: number;
}

function ip(rng: Prng): string {
  return `${10 + rng.int(200)}.${rng.int(256)}.${rng.int(256)}.${rng.int(256)}`;
}

function guid(rng: Prng): string {
  const h = rng.hex(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function b64(rng: Prng, bytes: number, label: string): string {
  return randomBytesFor(`${label}/${rng.u32()}`, bytes).toString('base64');
}

function addressList(people: readonly Person[]): string {
  return people.map((p) => `"${p.display}" <${p.email}>`).join(',\r\n ');
}

function html(paragraphs: readonly string[], quoted: readonly string[], from: Person): string {
  const style = 'font-size:11.0pt;font-family:&quot;Calibri&quot;,sans-serif;color:#1F3864';
  const out: string[] = [
    '<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" ' +
      'xmlns:w="urn:schemas-microsoft-com:office:word" xmlns:m="http://schemas.microsoft.com/office/2004/12/omml" ' +
      'xmlns="http://www.w3.org/TR/REC-html40">',
    '<head><meta http-equiv="Content-Type" content="text/html; charset=us-ascii">',
    '<meta name="Generator" content="Microsoft Word 15 (filtered medium)">',
    '<style><!-- /* Font Definitions */ @font-face {font-family:"Cambria Math"; panose-1:2 4 5 3 5 4 6 3 2 4;} ' +
      '@font-face {font-family:Calibri; panose-1:2 15 5 2 2 2 4 3 2 4;} p.MsoNormal, li.MsoNormal, div.MsoNormal ' +
      '{margin:0in; font-size:11.0pt; font-family:"Calibri",sans-serif;} a:link, span.MsoHyperlink {mso-style-priority:99; ' +
      'color:#0563C1; text-decoration:underline;} span.EmailStyle17 {mso-style-type:personal-compose; font-family:"Calibri",sans-serif; ' +
      'color:windowtext;} .MsoChpDefault {mso-style-type:export-only; font-family:"Calibri",sans-serif;} ' +
      '@page WordSection1 {size:8.5in 11.0in; margin:1.0in 1.0in 1.0in 1.0in;} div.WordSection1 {page:WordSection1;} --></style>',
    '</head><body lang="EN-US" link="#0563C1" vlink="#954F72" style="word-wrap:break-word"><div class="WordSection1">',
  ];
  for (const p of paragraphs) {
    out.push(`<p class="MsoNormal"><span style="${style}">${wrap(p, 76)}<o:p></o:p></span></p>`);
    out.push(`<p class="MsoNormal"><span style="${style}"><o:p>&nbsp;</o:p></span></p>`);
  }
  out.push(
    `<p class="MsoNormal"><b><span style="${style}">${from.display}</span></b><span style="${style}"><br>` +
      `Senior Manager | Contoso Ltd.<br>Tel +1 425 555 0${String(100 + ((from.email.length * 37) % 900))}<o:p></o:p></span></p>`,
  );
  if (quoted.length > 0) {
    out.push(
      '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0in 0in 0in"><p class="MsoNormal">' +
        '<b>From:</b> previous message<o:p></o:p></p></div>',
    );
    for (const p of quoted) out.push(`<p class="MsoNormal" style="margin-left:.5in">${wrap(p, 76)}<o:p></o:p></p>`);
  }
  out.push('</div></body></html>');
  return out.join('\r\n');
}

const DISCLAIMER =
  'This e-mail and any attachments are confidential and intended solely for the addressee. If you have ' +
  'received this e-mail in error please notify the sender immediately and delete it. Any views or opinions ' +
  'expressed are solely those of the author and do not necessarily represent those of Contoso Ltd.';

function message(ctx: MessageContext): Message {
  const { rng, owner, folder } = ctx;
  const text = new TextGen(rng);
  const notification = folder !== 'Sent Items' && rng.chance(0.1);
  const sent = folder === 'Sent Items';
  const others = Array.from({ length: 1 + rng.int(4) }, () => person(rng));
  const from = sent ? owner : (others[0] ?? owner);
  const to = sent ? others : [owner, ...others.slice(1, 1 + rng.int(3))];
  const cc = rng.chance(0.3) ? Array.from({ length: 1 + rng.int(5) }, () => person(rng)) : [];
  const isReply = !notification && rng.chance(0.45);
  const subject = `${isReply ? 'RE: ' : ''}${text.title()}`;
  const msgDomain = from.email.slice(from.email.indexOf('@') + 1);
  const messageId = `<${rng.hex(16).toUpperCase()}@${msgDomain}>`;
  const dateStr = ctx.date.toUTCString().replace('GMT', '+0000');

  // Headers: a Received chain, authentication results and Exchange bookkeeping (2-6 KiB).
  const h: string[] = [];
  const hops = notification ? 1 : 3 + rng.int(4);
  for (let i = 0; i < hops; i++) {
    h.push(
      `Received: from ${rng.pick(['EUR', 'NAM', 'APC'])}0${rng.int(9)}-${rng.hex(3)}.outbound.protection.outlook.com (${ip(rng)})\r\n` +
        ` by ${rng.hex(4).toUpperCase()}.mail.protection.outlook.com (${ip(rng)}) with Microsoft SMTP Server\r\n` +
        ` (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.${rng.int(9000)}.${rng.int(99)}; ${dateStr}`,
    );
  }
  if (!notification) {
    h.push(
      `ARC-Seal: i=1; a=rsa-sha256; s=arcselector9901; d=microsoft.com; cv=none;\r\n b=${wrap(b64(rng, 256, ctx.label), 76, ' ').trimStart()}`,
    );
    h.push(
      `ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=microsoft.com; s=arcselector9901;\r\n` +
        ` h=From:Date:Subject:Message-ID:Content-Type:MIME-Version:X-MS-Exchange-AntiSpam-MessageData-ChunkCount;\r\n` +
        ` bh=${b64(rng, 32, ctx.label)};\r\n b=${wrap(b64(rng, 256, ctx.label), 76, ' ').trimStart()}`,
    );
    h.push(
      `ARC-Authentication-Results: i=1; mx.microsoft.com 1; spf=pass smtp.mailfrom=${msgDomain};\r\n` +
        ` dmarc=pass action=none header.from=${msgDomain}; dkim=pass header.d=${msgDomain}; arc=none`,
    );
  }
  h.push(
    `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=${msgDomain}; s=selector1;\r\n` +
      ` h=From:Date:Subject:Message-ID:Content-Type:MIME-Version;\r\n bh=${b64(rng, 32, ctx.label)};\r\n` +
      ` b=${wrap(b64(rng, 256, ctx.label), 76, ' ').trimStart()}`,
  );
  h.push(`From: "${from.display}" <${from.email}>`);
  h.push(`To: ${addressList(to)}`);
  if (cc.length > 0) h.push(`CC: ${addressList(cc)}`);
  h.push(`Subject: ${subject}`);
  h.push(`Thread-Topic: ${subject.replace(/^RE: /, '')}`);
  h.push(`Thread-Index: ${b64(rng, 22 + (isReply ? 5 * (1 + rng.int(4)) : 0), ctx.label)}`);
  h.push(`Date: ${dateStr}`);
  h.push(`Message-ID: ${messageId}`);
  if (isReply) {
    const refs = Array.from({ length: 1 + rng.int(4) }, () => `<${rng.hex(16).toUpperCase()}@${pickDomain(rng)}>`);
    h.push(`References: ${refs.join('\r\n ')}`);
    h.push(`In-Reply-To: ${refs[refs.length - 1] ?? ''}`);
  }
  h.push('Accept-Language: en-US');
  h.push('Content-Language: en-US');
  if (!notification) {
    h.push(`X-MS-Has-Attach: ${''}`);
    h.push(`X-MS-TNEF-Correlator:`);
    h.push(`X-MS-Exchange-Organization-SCL: ${rng.int(2)}`);
    h.push(`X-MS-Exchange-Organization-AuthSource: ${rng.hex(4).toUpperCase()}.namprd0${rng.int(9)}.prod.outlook.com`);
    h.push(`X-MS-Exchange-Organization-Network-Message-Id: ${guid(rng)}`);
    h.push(`X-MS-Exchange-CrossTenant-Id: ${guid(rng)}`);
    h.push(`X-MS-Exchange-CrossTenant-OriginalArrivalTime: ${ctx.date.toISOString()}`);
    h.push(`X-Microsoft-Antispam: BCL:0;ARA:${rng.int(1e9)}|${rng.int(1e9)}|${rng.int(1e9)};`);
    h.push(`X-Microsoft-Antispam-Message-Info:\r\n ${wrap(b64(rng, 300 + rng.int(900), ctx.label), 76, ' ').trimStart()}`);
  }
  h.push('MIME-Version: 1.0');

  // Body text.
  const paragraphs = notification
    ? text.paragraphs(rng.between(200, 1500))
    : text.paragraphs(Math.min(200 * KiB, Math.max(150, rng.logNormal(1600, 0.9))));
  const quoted = isReply ? text.paragraphs(Math.min(100 * KiB, rng.logNormal(1500, 1.0))) : [];
  const plainParts = paragraphs.map((p) => wrap(p, 76));
  if (!notification) plainParts.push(`${from.display}\r\nSenior Manager | Contoso Ltd.`, wrap(DISCLAIMER, 76));
  if (quoted.length > 0) {
    plainParts.push(`-----Original Message-----\r\nFrom: ${addressList([others[0] ?? owner])}\r\nSent: ${dateStr}`);
    for (const p of quoted) plainParts.push(wrap(p, 76, '> '));
  }
  const plain = plainParts.join('\r\n\r\n');

  // Attachments: 12% of messages; 25% of attachments come from the shared pool.
  const attachments: Attachment[] = [];
  let sharedUses = 0;
  if (!notification && rng.chance(0.12)) {
    const n = rng.weighted([
      [1, 70],
      [2, 20],
      [3, 7],
      [4, 3],
    ] as const);
    for (let i = 0; i < n; i++) {
      if (rng.chance(0.25)) {
        attachments.push(ctx.shared.get(rng.zipf(ctx.shared.size, 1.0)));
        sharedUses++;
      } else {
        attachments.push(makeAttachment(rng, `${ctx.label}/att/${i}`, 50 * KiB, 1.4));
      }
    }
  }

  const alt = `_000_${rng.hex(20).toUpperCase()}_`;
  const altBody =
    `--${alt}\r\nContent-Type: text/plain; charset="us-ascii"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${plain}\r\n\r\n` +
    (notification
      ? ''
      : `--${alt}\r\nContent-Type: text/html; charset="us-ascii"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${html(paragraphs, quoted, from)}\r\n\r\n`) +
    `--${alt}--\r\n`;

  let body: string;
  if (attachments.length === 0) {
    h.push(`Content-Type: multipart/alternative;\r\n\tboundary="${alt}"`);
    body = altBody;
  } else {
    const mixed = `_004_${rng.hex(20).toUpperCase()}_`;
    h.push(`Content-Type: multipart/mixed;\r\n\tboundary="${mixed}"`);
    const parts = [`--${mixed}\r\nContent-Type: multipart/alternative;\r\n\tboundary="${alt}"\r\n\r\n${altBody}\r\n`];
    for (const a of attachments) {
      parts.push(
        `--${mixed}\r\nContent-Type: ${a.contentType}; name="${a.filename}"\r\nContent-Description: ${a.filename}\r\n` +
          `Content-Disposition: attachment; filename="${a.filename}"; size=${a.rawSize};\r\n\tcreation-date="${dateStr}"\r\n` +
          `Content-Transfer-Encoding: base64\r\n\r\n${a.body}\r\n\r\n`,
      );
    }
    parts.push(`--${mixed}--\r\n`);
    body = parts.join('');
  }
  const data = Buffer.from(`${h.join('\r\n')}\r\n\r\n${body}`, 'latin1');
  return { data, attachments: attachments.length, sharedUses };
}

function pickFolder(rng: Prng): string {
  return rng.weighted(FOLDERS);
}

// ---------------------------------------------------------------------------------------------
// Corpus

/** Writes the first version of the mail corpus under `dir` (created). */
export function generateMailCorpus(options: MailCorpusOptions): MailCorpusStats {
  const started = performance.now();
  const counts = allocate(options.seed, options.items);
  const shared = new SharedPool(options.seed, sharedPoolSize(options.items));
  const sizes: number[] = [];
  let bytes = 0;
  let withAttachments = 0;
  let attachments = 0;
  let sharedUses = 0;
  for (let m = 0; m < counts.length; m++) {
    const name = mailboxName(m);
    const owner = ownerOf(options.seed, m);
    const rng = new Prng(`${options.seed}/mail/mailbox/${m}`);
    const made = new Set<string>();
    let t = Date.UTC(2019, 0, 1) + rng.int(365 * 86_400_000);
    for (let seq = 0; seq < (counts[m] ?? 0); seq++) {
      const folder = pickFolder(rng);
      const folderDir = join(options.dir, name, folder);
      if (!made.has(folder)) {
        mkdirSync(folderDir, { recursive: true });
        made.add(folder);
      }
      t += Math.round(-Math.log(1 - rng.float()) * 4 * 3_600_000);
      const msg = message({ rng, owner, folder, date: new Date(t), shared, label: `${options.seed}/mail/${m}/${seq}` });
      writeFileSync(join(folderDir, `m${String(seq).padStart(6, '0')}.eml`), msg.data);
      sizes.push(msg.data.length);
      bytes += msg.data.length;
      if (msg.attachments > 0) withAttachments++;
      attachments += msg.attachments;
      sharedUses += msg.sharedUses;
    }
  }
  return {
    items: sizes.length,
    bytes,
    mailboxes: counts.length,
    messagesWithAttachments: withAttachments,
    attachments,
    sharedAttachmentUses: sharedUses,
    sharedPool: { attachments: shared.used(), rawBytes: shared.rawBytes() },
    messageSize: sizePercentiles(sizes),
    generationSeconds: (performance.now() - started) / 1000,
  };
}

export interface MailChangeOptions extends MailCorpusOptions {
  /** Percentage of messages added, changed or deleted (default 1): 40% added, 30% changed, 30% deleted. */
  percent: number;
}

/**
 * Turns the first version into the changed one, in place: new messages arrive in random mailboxes,
 * some messages change (a flag/category header is added, as when a user flags a message), some are
 * deleted. `items` must be the value the first version was generated with.
 */
export function changeMailCorpus(options: MailChangeOptions): MailChangeStats {
  const started = performance.now();
  const files = listFiles(options.dir);
  const n = Math.max(3, Math.round((files.length * options.percent) / 100));
  const added = Math.round(n * 0.4);
  const changed = Math.round(n * 0.3);
  const deleted = Math.min(files.length - changed, n - added - changed);
  const rng = new Prng(`${options.seed}/mail/changes`);

  const chosen = new Set<number>();
  const choose = (): number => {
    for (;;) {
      const i = rng.int(files.length);
      if (!chosen.has(i)) {
        chosen.add(i);
        return i;
      }
    }
  };
  for (let k = 0; k < changed; k++) {
    const f = files[choose()];
    if (f === undefined) continue;
    const data = readFileSync(f.abs);
    const header = Buffer.from(
      `Keywords: ${rng.pick(['Follow up', 'Important', 'Project', 'Customer'])}\r\nX-Flag-Status: flagged ${k}\r\n`,
      'latin1',
    );
    writeFileSync(f.abs, Buffer.concat([header, data]));
  }
  for (let k = 0; k < deleted; k++) {
    const f = files[choose()];
    if (f !== undefined) unlinkSync(f.abs);
  }

  const mailboxes = readdirSync(options.dir)
    .filter((d) => d.startsWith('mbx-'))
    .sort();
  const shared = new SharedPool(options.seed, sharedPoolSize(options.items));
  for (let k = 0; k < added; k++) {
    const name = rng.pick(mailboxes);
    const m = Number(name.slice(4)) - 1;
    const mrng = new Prng(`${options.seed}/mail/added/${k}`);
    const folder = mrng.chance(0.8) ? 'Inbox' : pickFolder(mrng);
    const folderDir = join(options.dir, name, folder);
    mkdirSync(folderDir, { recursive: true });
    const msg = message({
      rng: mrng,
      owner: ownerOf(options.seed, m),
      folder,
      date: new Date(Date.UTC(2025, 0, 1) + k * 60_000),
      shared,
      label: `${options.seed}/mail/added/${k}`,
    });
    writeFileSync(join(folderDir, `n${String(k).padStart(6, '0')}.eml`), msg.data);
  }
  const after = totals(listFiles(options.dir));
  return { added, changed, deleted, items: after.items, bytes: after.bytes, generationSeconds: (performance.now() - started) / 1000 };
}
