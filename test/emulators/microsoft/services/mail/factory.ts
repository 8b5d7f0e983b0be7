// Deterministic message recipes: people, subjects, dates, flags, sizes (log-normal around the
// spec's median, capped at maxBytes, exact: the text body fills what headers and attachments leave)
// and attachments, some drawn from a tenant-wide shared pool so that identical bytes appear in many
// mailboxes (what a deduplicating backup should store once).
import type { Prng } from '../../../../../bench/corpus/prng.ts';
import { person, TextGen } from '../../../../../bench/corpus/text.ts';
import type { Directory } from '../../tenant/directory.ts';
import type { TenantSpec } from '../../tenant/spec.ts';
import { segmentsSize } from './mime.ts';
import type { Address, AttachmentRecipe } from './mime.ts';
import { flat, isoSeconds, NONE } from './mailbox.ts';
import type { Folder, Mailbox, Message } from './mailbox.ts';

const KiB = 1024;
const MIN_MESSAGE = 1500;
const MIN_BODY = 120;

const KINDS: readonly (readonly [string, string, number])[] = [
  ['pdf', 'application/pdf', 34],
  ['jpg', 'image/jpeg', 22],
  ['png', 'image/png', 5],
  ['docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 10],
  ['xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 8],
  ['pptx', 'application/vnd.openxmlformats-officedocument.presentationml.presentation', 5],
  ['zip', 'application/zip', 4],
];

const CATEGORIES = ['Blue category', 'Red category', 'Green category', 'Follow up', 'Project', 'Customer'];

export class MessageFactory {
  readonly spec: TenantSpec;
  private readonly pool: AttachmentRecipe[] = [];
  private readonly people: Address[] = [];

  constructor(spec: TenantSpec, directory: Directory, rng: Prng) {
    this.spec = spec;
    for (const u of directory.users.values()) {
      if (u.mail) this.people.push({ name: u.displayName, address: u.mail });
    }
    for (let i = 0; i < 60; i++) {
      const p = person(rng);
      this.people.push({ name: p.display, address: p.email });
    }
    const text = new TextGen(rng);
    const poolSize = Math.max(4, Math.min(64, spec.users + spec.sharedMailboxes + 3));
    const cap = Math.max(4 * KiB, Math.floor(spec.sizes.maxBytes / 4));
    for (let k = 0; k < poolSize; k++) {
      const [ext, contentType] = rng.weighted(KINDS.map((k2) => [k2, k2[2]] as const));
      const size = Math.round(Math.min(cap, Math.max(4 * KiB, rng.logNormal(64 * KiB, 0.8))));
      this.pool.push({
        name: `${text.words(2).replaceAll(' ', '_')}_shared${k}.${ext}`,
        contentType,
        size,
        label: `${spec.seed}/mail/shared/${k}`,
      });
    }
  }

  /** A new message in `folder`, received at `at` (ms). */
  create(mb: Mailbox, folder: Folder, rng: Prng, at: number): Message {
    const { key, id } = mb.newKey();
    const label = mb.label({ key } as Message);
    const text = new TextGen(rng);
    const owner = mb.owner;
    const outgoing = folder.wellKnown === 'sentitems' || folder.wellKnown === 'drafts' || folder.wellKnown === 'outbox';
    const other = (): Address => rng.pick(this.people);
    const from = outgoing ? owner : other();
    const to = outgoing ? Array.from({ length: 1 + rng.int(3) }, other) : [owner, ...Array.from({ length: rng.int(3) }, other)];
    const cc = rng.chance(0.3) ? Array.from({ length: 1 + rng.int(3) }, other) : NONE;
    const subject = flat(`${rng.chance(0.4) ? 'RE: ' : ''}${text.title()}`);
    const when = isoSeconds(at);
    let attachments: AttachmentRecipe[] = NONE;
    const target = Math.round(
      Math.min(this.spec.sizes.maxBytes, Math.max(MIN_MESSAGE, rng.logNormal(this.spec.sizes.mailMedianBytes, this.spec.sizes.sigma))),
    );
    if (rng.chance(this.spec.duplicateAttachmentShare)) attachments = [this.pool[rng.zipf(this.pool.length, 1)] as AttachmentRecipe];
    if (rng.chance(0.12)) {
      const [ext, contentType] = rng.weighted(KINDS.map((k) => [k, k[2]] as const));
      const size = Math.max(KiB, Math.floor((target * 0.6 * 3) / 4));
      attachments = [
        ...attachments,
        { name: `${text.words(1 + rng.int(2)).replaceAll(' ', '_')}.${ext}`, contentType, size, label: `${label}/att/0` },
      ];
    }
    const m: Message = {
      id,
      key,
      folderId: folder.id,
      version: 1,
      createdDateTime: when,
      lastModifiedDateTime: when,
      receivedDateTime: when,
      sentDateTime: isoSeconds(at - 1000 * (5 + rng.int(300))),
      subject,
      from,
      to,
      cc,
      isRead: outgoing || rng.chance(0.8),
      isDraft: folder.wellKnown === 'drafts',
      importance: rng.weighted([
        ['normal', 90],
        ['high', 7],
        ['low', 3],
      ] as const),
      categories: rng.chance(0.1) ? [rng.pick(CATEGORIES)] : NONE,
      flagged: rng.chance(0.05),
      internetMessageId: flat(`<${rng.hex(16).toUpperCase()}@${from.address.slice(from.address.indexOf('@') + 1)}>`),
      bodyBytes: 0,
      attachments,
    };
    // The text body fills the target size; messages whose attachments alone exceed the target
    // are bigger (still under maxBytes: shared attachments are at most a quarter of it).
    const fixed = segmentsSize(mb.segments(m));
    m.bodyBytes = Math.max(MIN_BODY, target - fixed);
    return m;
  }

  newFolderName(rng: Prng): string {
    const t = new TextGen(rng).title();
    return t.split(' ').slice(0, 3).join(' ');
  }

  category(rng: Prng): string {
    return rng.pick(CATEGORIES);
  }
}
