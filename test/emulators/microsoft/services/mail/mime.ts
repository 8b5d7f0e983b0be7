// MIME for the mail workload: generated messages are laid out as segments (header text, a text
// body of a known length, base64 attachment parts) so that their exact size is known without
// rendering them, and they are rendered into one Buffer only when `$value` or an export asks. Also
// a small parser for the MIME a client uploads (restore), enough to read the headers, the text
// body and the attachments back.
import { randomBytesFor } from '../../../../../bench/corpus/prng.ts';
import { Prng } from '../../../../../bench/corpus/prng.ts';
import { TextGen, wrap } from '../../../../../bench/corpus/text.ts';

export interface Address {
  name: string;
  address: string;
}

/** An attachment rendered from a label (own or from the tenant's shared pool). */
export interface AttachmentRecipe {
  name: string;
  contentType: string;
  size: number;
  /** Label of the bytes: the same label gives the same bytes, in any mailbox. */
  label: string;
}

export type Segment = string | { text: string; length: number } | { attachment: AttachmentRecipe };

/** Length of `base64Lines(data)` for `n` bytes: 76-column lines joined by CRLF. */
export function base64LinesLength(n: number): number {
  if (n === 0) return 0;
  const chars = 4 * Math.ceil(n / 3);
  return chars + 2 * (Math.ceil(chars / 76) - 1);
}

export function segmentsSize(segments: readonly Segment[]): number {
  let size = 0;
  for (const s of segments) {
    if (typeof s === 'string') size += s.length;
    else if ('text' in s) size += s.length;
    else size += base64LinesLength(s.attachment.size);
  }
  return size;
}

/** The raw bytes of an attachment recipe. */
export function attachmentBytes(a: AttachmentRecipe): Buffer {
  return randomBytesFor(a.label, a.size);
}

// Sentences for message bodies, generated and wrapped once: a body strings sentences picked at
// random (each sentence starts a line), which is far faster than generating every word and still
// reads (and compresses) like prose. The pool is large enough that two messages practically never
// share a run of sentences.
const SENTENCE_BITS = 16;
let sentencePool: string[] | undefined;

function sentences(): string[] {
  if (!sentencePool) {
    const text = new TextGen(new Prng('saasbackup-emulator-mail-sentences'));
    // Through a Buffer so that each sentence is one flat string (not a rope of concatenations).
    sentencePool = Array.from({ length: 1 << SENTENCE_BITS }, () => Buffer.from(wrap(text.sentence(), 76), 'latin1').toString('latin1'));
  }
  return sentencePool;
}

let sentenceBuffers: Buffer[] | undefined;
const CRLF = Buffer.from('\r\n', 'latin1');

/**
 * Writes the text body of exactly `length` ASCII bytes (at least 2, ending with CRLF) for `label`
 * at `offset`, and returns the offset after it: sentences copied straight into the message, since
 * building each body as a string cost the emulator a tenth of its CPU in the benchmarks.
 */
export function writeBodyText(target: Buffer, offset: number, label: string, length: number): number {
  const n = Math.max(2, length);
  sentenceBuffers ??= sentences().map((s) => Buffer.from(s, 'latin1'));
  const pool = sentenceBuffers;
  const rng = new Prng(`${label}/body`);
  const limit = offset + n - 2;
  let at = offset;
  const put = (piece: Buffer): void => {
    at += piece.copy(target, at, 0, Math.min(piece.length, limit - at));
  };
  let first = true;
  while (at < limit) {
    if (!first) put(CRLF);
    first = false;
    const count = 1 + rng.int(6);
    for (let i = 0; i < count && at < limit; i++) {
      put(pool[rng.u32() >>> (32 - SENTENCE_BITS)] as Buffer);
      put(CRLF);
    }
  }
  // A body cut right after a CR would end in CR CR LF.
  if (n > 2 && target[limit - 1] === 13) target[limit - 1] = 46;
  target[limit] = 13;
  target[limit + 1] = 10;
  return limit + 2;
}

/** A text body of exactly `length` ASCII bytes (at least 2), ending with CRLF, from `label`. */
export function bodyText(label: string, length: number): string {
  const out = Buffer.allocUnsafe(Math.max(2, length));
  writeBodyText(out, 0, label, length);
  return out.toString('latin1');
}

/** Graph's bodyPreview: the first 255 characters of the body with whitespace collapsed. */
export function previewOf(text: string): string {
  return text.slice(0, 600).replace(/\s+/g, ' ').trim().slice(0, 255);
}

function writeBase64Lines(target: Buffer, offset: number, data: Buffer): number {
  const b64 = Buffer.from(data.toString('base64'), 'latin1');
  let off = offset;
  for (let i = 0; i < b64.length; i += 76) {
    if (i > 0) {
      target[off++] = 13;
      target[off++] = 10;
    }
    off += b64.copy(target, off, i, Math.min(i + 76, b64.length));
  }
  return off;
}

/** Renders segments into one Buffer of exactly `segmentsSize(segments)` bytes. */
export function renderSegments(segments: readonly Segment[], text: (label: string, length: number) => string): Buffer {
  const out = Buffer.allocUnsafe(segmentsSize(segments));
  let off = 0;
  for (const s of segments) {
    if (typeof s === 'string') off += out.write(s, off, 'latin1');
    else if ('text' in s)
      off = text === bodyText ? writeBodyText(out, off, s.text, s.length) : off + out.write(text(s.text, s.length), off, 'latin1');
    else off = writeBase64Lines(out, off, attachmentBytes(s.attachment));
  }
  if (off !== out.length) throw new Error(`rendered ${off} bytes, layout says ${out.length}`);
  return out;
}

export function formatAddress(a: Address): string {
  return a.name ? `"${a.name}" <${a.address}>` : a.address;
}

export function formatAddressList(list: readonly Address[]): string {
  return list.map(formatAddress).join(',\r\n ');
}

/** RFC 5322 date: `Tue, 02 Jan 2024 10:00:00 +0000`. */
export function rfc5322Date(iso: string): string {
  return new Date(iso).toUTCString().replace('GMT', '+0000');
}

// ---------------------------------------------------------------------------------------------
// Parsing what a client uploads

export interface ParsedAttachment {
  name: string;
  contentType: string;
  bytes: Buffer;
}

export interface ParsedMime {
  /** Lower-case header names, unfolded values (first occurrence). */
  headers: Map<string, string>;
  text: string;
  attachments: ParsedAttachment[];
}

function splitHeaders(raw: string): { headers: Map<string, string>; body: string } {
  let cut = raw.indexOf('\r\n\r\n');
  let sep = 4;
  const lf = raw.indexOf('\n\n');
  if (cut < 0 || (lf >= 0 && lf < cut)) {
    cut = lf;
    sep = 2;
  }
  const head = cut < 0 ? raw : raw.slice(0, cut);
  const body = cut < 0 ? '' : raw.slice(cut + sep);
  const headers = new Map<string, string>();
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return { headers, body };
}

function param(value: string, name: string): string | undefined {
  const m = new RegExp(`${name}\\*?=\\s*(?:"([^"]*)"|([^;\\s]+))`, 'i').exec(value);
  return m ? (m[1] ?? m[2]) : undefined;
}

function decodeBody(body: string, encoding: string | undefined): Buffer {
  const enc = (encoding ?? '').toLowerCase();
  if (enc === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64');
  if (enc === 'quoted-printable') {
    const s = body.replace(/=\r?\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(s, 'latin1');
  }
  return Buffer.from(body, 'latin1');
}

function walk(headers: Map<string, string>, body: string, out: ParsedMime): void {
  const type = headers.get('content-type') ?? 'text/plain';
  const boundary = param(type, 'boundary');
  if (/^multipart\//i.test(type) && boundary) {
    const delimiter = `--${boundary}`;
    const pieces = body.split(delimiter);
    for (let i = 1; i < pieces.length; i++) {
      let piece = pieces[i] as string;
      if (piece.startsWith('--')) break;
      piece = piece.replace(/^[ \t]*\r?\n/, '').replace(/\r?\n$/, '');
      const part = splitHeaders(piece);
      walk(part.headers, part.body, out);
    }
    return;
  }
  const disposition = headers.get('content-disposition') ?? '';
  const name = param(disposition, 'filename') ?? param(type, 'name');
  if (/^attachment/i.test(disposition) || (name && !/^text\/plain/i.test(type))) {
    out.attachments.push({
      name: name ?? 'attachment',
      contentType: type.split(';')[0]?.trim() ?? 'application/octet-stream',
      bytes: decodeBody(body, headers.get('content-transfer-encoding')),
    });
  } else if (/^text\//i.test(type) && out.text === '') {
    out.text = decodeBody(body, headers.get('content-transfer-encoding')).toString('latin1');
  }
}

export function parseMime(data: Buffer): ParsedMime {
  const { headers, body } = splitHeaders(data.toString('latin1'));
  const out: ParsedMime = { headers, text: '', attachments: [] };
  walk(headers, body, out);
  return out;
}

/** `"Name" <a@b>, c@d` as addresses. */
export function parseAddressList(value: string | undefined): Address[] {
  if (!value) return [];
  const out: Address[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|([^,<"]*?))\s*<([^>]+)>|([^\s,<>"]+@[^\s,<>"]+)/g;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    if (m[4]) out.push({ name: m[4], address: m[4] });
    else out.push({ name: (m[1] ?? m[2] ?? '').trim() || (m[3] ?? ''), address: (m[3] ?? '').trim() });
  }
  return out;
}

/** MIME for a message created from JSON (no MIME given): headers, text body, no attachments. */
export function mimeFromJson(m: {
  subject: string;
  from: Address | undefined;
  to: Address[];
  cc: Address[];
  date: string;
  messageId: string;
  text: string;
}): Buffer {
  const h: string[] = [];
  if (m.from) h.push(`From: ${formatAddress(m.from)}`);
  if (m.to.length) h.push(`To: ${formatAddressList(m.to)}`);
  if (m.cc.length) h.push(`CC: ${formatAddressList(m.cc)}`);
  h.push(
    `Subject: ${m.subject}`,
    `Date: ${rfc5322Date(m.date)}`,
    `Message-ID: ${m.messageId}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset="utf-8"',
    'Content-Transfer-Encoding: 8bit',
  );
  return Buffer.concat([Buffer.from(`${h.join('\r\n')}\r\n\r\n`, 'utf8'), Buffer.from(m.text.replace(/\r?\n/g, '\r\n'), 'utf8')]);
}
