// Prune: under an exclusive lock, remove the checkpoints no writer can resume any more, mark every
// blob the snapshots and the other checkpoints need, delete packs nobody needs, repack
// mostly-empty packs, and replace the index files with one fresh set.
// Order keeps the repository whole if prune dies at any point: new packs, then the new index
// (which names the index files it supersedes), then deleting old index files, then old packs.
// Objects under S3 Object Lock are never forced: they are counted as space not freed yet.
import type { PackEntry } from './index.ts';
import { acquireLock } from './locks.ts';
import type { SnapshotManifest } from './model.ts';
import { resumableCheckpoints } from './checkpoints.ts';
import { isRepositoryError } from './errors.ts';
import { PACK_TARGET_BYTES, PackBuilder, packIdOfName, packName } from './pack.ts';
import type { Repository } from './repository.ts';

export interface PruneOptions {
  /** Packs that no index lists are deleted only when older than this (a writer may still be indexing them). Default 1 hour. */
  unindexedGraceMs?: number;
  /** Repack a pack when less than this share of it is still needed. Default 0.5. */
  repackBelow?: number;
  dryRun?: boolean;
  onProgress?: (message: string) => void;
}

export interface PruneReport {
  packsDeleted: number;
  packsRepacked: number;
  packsWritten: number;
  unindexedDeleted: number;
  bytesFreed: number;
  /** Space that Object Lock does not let prune free yet, and until when (the latest retention). */
  bytesLocked: number;
  lockedUntil?: string;
  indexFilesReplaced: number;
  /** Checkpoints no writer can resume (checkpoints.ts), removed (dry run: to be removed). */
  checkpointsRemoved: number;
  /** Temp files of writes a crash interrupted (directory repositories). */
  tempFilesRemoved: number;
  blobsKept: number;
  blobsRemoved: number;
}

export async function prune(repository: Repository, options: PruneOptions = {}): Promise<PruneReport> {
  const progress = options.onProgress ?? (() => undefined);
  const lock = await acquireLock(repository, 'prune', true);
  try {
    return await pruneLocked(repository, options, progress);
  } finally {
    await lock.release();
  }
}

async function pruneLocked(repository: Repository, options: PruneOptions, progress: (message: string) => void): Promise<PruneReport> {
  const report: PruneReport = {
    packsDeleted: 0,
    packsRepacked: 0,
    packsWritten: 0,
    unindexedDeleted: 0,
    bytesFreed: 0,
    bytesLocked: 0,
    indexFilesReplaced: 0,
    checkpointsRemoved: 0,
    tempFilesRemoved: 0,
    blobsKept: 0,
    blobsRemoved: 0,
  };
  await repository.loadIndex();
  const { index, storage } = repository;
  const remove = async (name: string, size: number): Promise<boolean> => {
    try {
      await storage.delete(name);
      report.bytesFreed += size;
      return true;
    } catch (error) {
      if (!isRepositoryError(error, 'ObjectLocked')) throw error;
      report.bytesLocked += size;
      const until = /until (\S+)/.exec(error.message)?.[1];
      if (until && (!report.lockedUntil || until > report.lockedUntil)) report.lockedUntil = until;
      return false;
    }
  };

  // Removed first, so that what only they needed is freed now; one that Object Lock keeps stays whole.
  const snapshots = await repository.snapshots();
  const checkpoints = await repository.snapshots('checkpoints');
  const resumable = resumableCheckpoints(snapshots, checkpoints);
  const kept: SnapshotManifest[] = [];
  for (const checkpoint of checkpoints) {
    if (resumable.has(checkpoint.id)) kept.push(checkpoint);
    else if (options.dryRun) report.checkpointsRemoved += 1;
    else if (await remove(`checkpoints/${checkpoint.id}`, 0)) report.checkpointsRemoved += 1;
    else kept.push(checkpoint);
  }
  progress(`${report.checkpointsRemoved} checkpoints no writer can resume removed, ${kept.length} kept`);

  progress('marking blobs that snapshots and checkpoints need');
  const needed = new Set<string>();
  for (const manifest of [...snapshots, ...kept]) {
    for (const tree of manifest.accounts) {
      for (const treeId of tree.trees) {
        needed.add(treeId);
        for (const item of await repository.readTree(treeId)) for (const id of item.content) needed.add(id);
      }
    }
  }

  // A blob is kept in the one pack the index resolves it to; copies in other packs are garbage.
  const keep: PackEntry[] = [];
  const repack: PackEntry[] = [];
  const drop: PackEntry[] = [];
  for (const pack of index.packs) {
    const used = pack.blobs.filter((blob) => needed.has(blob.id) && index.get(blob.id)?.packId === pack.id);
    const usedBytes = used.reduce((n, b) => n + b.length, 0);
    report.blobsKept += used.length;
    report.blobsRemoved += pack.blobs.length - used.length;
    if (used.length === 0) drop.push(pack);
    else if (usedBytes < pack.size * (options.repackBelow ?? 0.5)) repack.push(pack);
    else keep.push(pack);
  }
  progress(`${keep.length} packs kept, ${repack.length} to repack, ${drop.length} to delete`);

  const now = repository.clock().getTime();
  const unindexed: string[] = [];
  for await (const object of storage.list('data/')) {
    if (!index.pack(packIdOfName(object.name)) && now - object.lastModified.getTime() >= (options.unindexedGraceMs ?? 3_600_000)) {
      unindexed.push(object.name);
    }
  }
  if (options.dryRun) return { ...report, packsDeleted: drop.length, packsRepacked: repack.length, unindexedDeleted: unindexed.length };

  const written: PackEntry[] = [];
  let builder = new PackBuilder();
  const flush = async () => {
    if (builder.count === 0) return;
    const { id, bytes, blobs } = repository.sealPack(builder);
    await repository.putObject(packName(id), bytes, id);
    written.push({ id, size: bytes.length, blobs });
    builder = new PackBuilder(builder.recycle());
  };
  for (const pack of repack) {
    const bytes = await storage.get(packName(pack.id));
    for (const blob of pack.blobs) {
      if (!needed.has(blob.id) || index.get(blob.id)?.packId !== pack.id) continue;
      // Sealed bytes move as they are: repacking never decrypts.
      builder.add(blob.id, blob.type, bytes.subarray(blob.offset, blob.offset + blob.length));
      if (builder.size >= PACK_TARGET_BYTES) await flush();
    }
  }
  await flush();
  report.packsWritten = written.length;
  report.packsRepacked = repack.length;

  // Unreadable index files are replaced too: their packs came from pack headers.
  const oldIndexFiles = [...index.files.keys(), ...repository.damagedIndexes.keys()];
  const newIndexName = await repository.writeIndex([...keep, ...written], oldIndexFiles);
  progress(`wrote ${newIndexName} for ${keep.length + written.length} packs`);

  for (const name of oldIndexFiles) if (await remove(name, 0)) report.indexFilesReplaced += 1;
  for (const pack of [...drop, ...repack]) if (await remove(packName(pack.id), pack.size)) report.packsDeleted += 1;
  for (const name of unindexed) {
    const size = (await storage.stat(name))?.size ?? 0;
    if (await remove(name, size)) report.unindexedDeleted += 1;
  }

  report.tempFilesRemoved = (await storage.removeStaleTempFiles?.(new Date(now - (options.unindexedGraceMs ?? 3_600_000)))) ?? 0;

  // Start over from what is now on storage.
  index.clear();
  repository.damagedIndexes.clear();
  await repository.loadIndex();
  return report;
}
