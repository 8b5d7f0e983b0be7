// The file corpus: a few large files (by default 20 files of 5-100 MiB, 640 MiB in all) spread over
// four OneDrive-like accounts, of mixed compressibility: logs and CSV exports (text), videos and
// archives (incompressible), databases and disk images (zeros, text and random pages mixed). The
// changed version edits some in place (pages rewritten), inserts bytes into others (everything after
// the insertion shifts, which only content-defined chunking deduplicates), appends to logs, deletes
// one file and adds one.
import { closeSync, mkdirSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ByteStream, Prng } from './prng.ts';
import { csvText, logText } from './text.ts';
import { listFiles, totals } from './walk.ts';

const MiB = 1024 * 1024;
const KiB = 1024;
const BLOCK = MiB;

export const DEFAULT_FILE_COUNT = 20;
/** 20 files spread log-uniformly over 5-100 MiB add up to about this. */
export const DEFAULT_FILES_MIB = 640;

type Kind = 'log' | 'csv' | 'video' | 'archive' | 'database' | 'disk';

const KIND_INFO: Record<Kind, { folder: string; ext: string }> = {
  log: { folder: 'Logs', ext: 'log' },
  csv: { folder: 'Exports', ext: 'csv' },
  video: { folder: 'Videos', ext: 'mp4' },
  archive: { folder: 'Archives', ext: 'zip' },
  database: { folder: 'Databases', ext: 'sqlite' },
  disk: { folder: 'VMs', ext: 'vhdx' },
};

// The mix of 20 files: 7 text, 7 incompressible, 6 mixed. Other counts cycle through it.
const MIX: readonly Kind[] = [
  'log',
  'video',
  'database',
  'csv',
  'archive',
  'disk',
  'log',
  'video',
  'database',
  'log',
  'video',
  'disk',
  'csv',
  'archive',
  'database',
  'log',
  'video',
  'disk',
  'log',
  'archive',
];

export interface FilesCorpusOptions {
  dir: string;
  seed: string;
  /** Total size of the first version in MiB. */
  totalMiB: number;
  /** Number of files (default 20). */
  files?: number;
}

export interface FilesCorpusStats {
  items: number;
  bytes: number;
  files: { path: string; kind: Kind; size: number }[];
  generationSeconds: number;
}

export interface FilesChangeStats {
  changedInPlace: string[];
  bytesInserted: string[];
  appended: string[];
  deleted: string[];
  added: string[];
  items: number;
  bytes: number;
  generationSeconds: number;
}

/** An endless stream of the bytes a kind of file is made of. */
class ContentSource {
  readonly #kind: Kind;
  readonly #rng: Prng;
  readonly #random: ByteStream;
  #text = Buffer.alloc(0);
  #textMs = Date.UTC(2024, 0, 1);

  constructor(kind: Kind, label: string) {
    this.#kind = kind;
    this.#rng = new Prng(label);
    this.#random = new ByteStream(label);
  }

  #textBytes(n: number): Buffer {
    while (this.#text.length < n) {
      let chunk: string;
      if (this.#kind === 'csv' || (this.#kind !== 'log' && this.#rng.chance(0.5))) {
        chunk = csvText(this.#rng, 256 * KiB, false);
      } else {
        const r = logText(this.#rng, 256 * KiB, this.#textMs);
        this.#textMs = r.endMs;
        chunk = r.text;
      }
      this.#text = Buffer.concat([this.#text, Buffer.from(chunk, 'latin1')]);
    }
    const out = this.#text.subarray(0, n);
    this.#text = this.#text.subarray(n);
    return Buffer.from(out);
  }

  /** Mixed content: pages of `page` bytes, each zeros, text or random. */
  #mixed(n: number, page: number, pZero: number, pText: number): Buffer {
    const parts: Buffer[] = [];
    for (let done = 0; done < n; done += page) {
      const len = Math.min(page, n - done);
      const r = this.#rng.float();
      if (r < pZero) {
        const b = Buffer.alloc(len);
        // Mostly-empty pages still carry a header.
        if (len >= 16) this.#random.next(16).copy(b);
        parts.push(b);
      } else if (r < pZero + pText) {
        parts.push(this.#textBytes(len));
      } else {
        parts.push(this.#random.next(len));
      }
    }
    return Buffer.concat(parts);
  }

  next(n: number): Buffer {
    switch (this.#kind) {
      case 'log':
      case 'csv':
        return this.#textBytes(n);
      case 'video':
      case 'archive':
        return this.#random.next(n);
      case 'database':
        return this.#mixed(n, 8 * KiB, 0.25, 0.4);
      case 'disk':
        return this.#mixed(n, 64 * KiB, 0.4, 0.2);
    }
  }
}

interface Planned {
  rel: string;
  kind: Kind;
  size: number;
}

function planFiles(seed: string, totalMiB: number, count: number): Planned[] {
  // Sizes evenly spread on a log scale from 5 to 100 MiB (then scaled to the total), shuffled.
  const rng = new Prng(`${seed}/files/plan`);
  const raw = Array.from({ length: count }, (_, i) => 5 * Math.pow(20, (i + 0.5) / count));
  for (let i = raw.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [raw[i], raw[j]] = [raw[j] ?? 0, raw[i] ?? 0];
  }
  const sum = raw.reduce((a, b) => a + b, 0);
  return raw.map((mib, i) => {
    const kind = MIX[i % MIX.length] ?? 'log';
    const info = KIND_INFO[kind];
    const account = `user-${String((i % 4) + 1).padStart(2, '0')}`;
    return {
      rel: `${account}/${info.folder}/${kind}-${String(i).padStart(3, '0')}.${info.ext}`,
      kind,
      size: Math.max(4 * KiB, Math.round(((mib * totalMiB) / sum) * MiB)),
    };
  });
}

function writeFileFrom(path: string, size: number, source: ContentSource): void {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'w');
  try {
    for (let done = 0; done < size; done += BLOCK) {
      const buf = source.next(Math.min(BLOCK, size - done));
      writeSync(fd, buf);
    }
  } finally {
    closeSync(fd);
  }
}

export function generateFilesCorpus(options: FilesCorpusOptions): FilesCorpusStats {
  const started = performance.now();
  const plan = planFiles(options.seed, options.totalMiB, options.files ?? DEFAULT_FILE_COUNT);
  for (const f of plan) writeFileFrom(join(options.dir, f.rel), f.size, new ContentSource(f.kind, `${options.seed}/files/${f.rel}`));
  const t = totals(listFiles(options.dir));
  return {
    items: t.items,
    bytes: t.bytes,
    files: plan.map((f) => ({ path: f.rel, kind: f.kind, size: f.size })),
    generationSeconds: (performance.now() - started) / 1000,
  };
}

function kindOf(rel: string): Kind {
  const base = rel.slice(rel.lastIndexOf('/') + 1);
  const kind = base.slice(0, base.indexOf('-')) as Kind;
  return kind in KIND_INFO ? kind : 'archive';
}

/** Rewrites `path` with `inserts` (offset, bytes) spliced in, through a temp file and a rename. */
function insertBytes(path: string, inserts: { offset: number; data: Buffer }[]): void {
  const sorted = [...inserts].sort((a, b) => a.offset - b.offset);
  const tmp = `${path}.tmp`;
  const src = openSync(path, 'r');
  const dst = openSync(tmp, 'w');
  try {
    const buf = Buffer.alloc(BLOCK);
    let pos = 0;
    const copyUntil = (end: number): void => {
      while (pos < end) {
        const n = readSync(src, buf, 0, Math.min(BLOCK, end - pos), pos);
        if (n === 0) break;
        writeSync(dst, buf.subarray(0, n));
        pos += n;
      }
    };
    for (const ins of sorted) {
      copyUntil(ins.offset);
      writeSync(dst, ins.data);
    }
    copyUntil(Number.MAX_SAFE_INTEGER);
  } finally {
    closeSync(src);
    closeSync(dst);
  }
  renameSync(tmp, path);
}

/**
 * Turns the first version into the changed one, in place. With 20 files: 3 get pages rewritten in
 * place, 3 get bytes inserted, 2 logs get appended to, 1 is deleted and 1 new file is added.
 */
export function changeFilesCorpus(options: FilesCorpusOptions): FilesChangeStats {
  const started = performance.now();
  const rng = new Prng(`${options.seed}/files/changes`);
  const files = listFiles(options.dir);
  const count = files.length;
  const nInPlace = Math.max(1, Math.round(count * 0.15));
  const nInsert = Math.max(1, Math.round(count * 0.15));
  const nAppend = Math.max(1, Math.round(count * 0.1));
  const nDelete = count >= 5 ? 1 : 0;

  const free = files.map((f) => f.rel);
  const take = (prefer?: (rel: string) => boolean): string | undefined => {
    const candidates = prefer === undefined ? free : free.filter(prefer);
    const pool = candidates.length > 0 ? candidates : free;
    if (pool.length === 0) return undefined;
    const rel = rng.pick(pool);
    free.splice(free.indexOf(rel), 1);
    return rel;
  };
  const stats: FilesChangeStats = {
    changedInPlace: [],
    bytesInserted: [],
    appended: [],
    deleted: [],
    added: [],
    items: 0,
    bytes: 0,
    generationSeconds: 0,
  };

  for (let i = 0; i < nAppend; i++) {
    const rel = take((r) => kindOf(r) === 'log' || kindOf(r) === 'csv');
    if (rel === undefined) break;
    const path = join(options.dir, rel);
    const size = statSync(path).size;
    const src = new ContentSource(kindOf(rel), `${options.seed}/files/append/${rel}`);
    const fd = openSync(path, 'a');
    try {
      writeSync(fd, src.next(Math.max(4 * KiB, Math.round(size * (0.01 + rng.float() * 0.04)))));
    } finally {
      closeSync(fd);
    }
    stats.appended.push(rel);
  }
  for (let i = 0; i < nInPlace; i++) {
    const rel = take((r) => kindOf(r) !== 'log');
    if (rel === undefined) break;
    const path = join(options.dir, rel);
    const size = statSync(path).size;
    const src = new ContentSource(kindOf(rel), `${options.seed}/files/inplace/${rel}`);
    const fd = openSync(path, 'r+');
    try {
      for (let k = 0, n = 1 + rng.int(8); k < n; k++) {
        const len = Math.min(size, 4 * KiB * (1 + rng.int(64)));
        writeSync(fd, src.next(len), 0, len, rng.int(Math.max(1, size - len)));
      }
    } finally {
      closeSync(fd);
    }
    stats.changedInPlace.push(rel);
  }
  for (let i = 0; i < nInsert; i++) {
    const rel = take();
    if (rel === undefined) break;
    const path = join(options.dir, rel);
    const size = statSync(path).size;
    const src = new ContentSource(kindOf(rel), `${options.seed}/files/insert/${rel}`);
    const inserts = Array.from({ length: 1 + rng.int(5) }, () => ({ offset: rng.int(size), data: src.next(KiB * (1 + rng.int(64))) }));
    insertBytes(path, inserts);
    stats.bytesInserted.push(rel);
  }
  for (let i = 0; i < nDelete; i++) {
    const rel = take();
    if (rel === undefined) break;
    unlinkSync(join(options.dir, rel));
    stats.deleted.push(rel);
  }
  // One new file, sized like the others (the mean of a log-uniform 5-100 MiB is 31.7 MiB).
  const meanMiB = totals(files).bytes / MiB / Math.max(1, count);
  const size = Math.max(4 * KiB, Math.round(((5 * Math.pow(20, rng.float())) / 31.7) * meanMiB * MiB));
  const rel = `user-01/${KIND_INFO.video.folder}/video-new-${String(count).padStart(3, '0')}.${KIND_INFO.video.ext}`;
  writeFileFrom(join(options.dir, rel), size, new ContentSource('video', `${options.seed}/files/new/${rel}`));
  stats.added.push(rel);

  const t = totals(listFiles(options.dir));
  stats.items = t.items;
  stats.bytes = t.bytes;
  stats.generationSeconds = (performance.now() - started) / 1000;
  return stats;
}
