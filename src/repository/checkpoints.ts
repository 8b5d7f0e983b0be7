// Which checkpoints a writer may resume. A checkpoint holds part of a run that never committed. Once
// a snapshot of its policy and shard is committed after the snapshot it was written on, the items
// it holds are older than that snapshot: a writer that took accounts from it would commit a
// snapshot claiming a time whose changes it does not hold. So a writer resumes only a checkpoint
// written on top of its own parent, after the newest snapshot of its policy and shard; commit
// removes the checkpoints of its policy and shard, and prune those no writer can resume.
import type { SnapshotManifest } from './model.ts';

export function sameSource(manifest: SnapshotManifest, policy: string, shard: number): boolean {
  return manifest.policy === policy && manifest.shard === shard;
}

/**
 * Can a writer whose parent is `parentId` resume `checkpoint`, given the newest committed snapshot
 * of the checkpoint's policy and shard (undefined when there is none)?
 */
export function canResume(checkpoint: SnapshotManifest, newest: SnapshotManifest | undefined, parentId: string | undefined): boolean {
  return checkpoint.parent === parentId && (newest === undefined || checkpoint.time > newest.time);
}

/**
 * The checkpoints a writer of the policy and shard taking the newest snapshot as its parent (as
 * the workers do) would resume: the newest that it can resume. Every other one is of no use: an
 * older one is superseded by a later attempt of the same run (a writer resumes only the newest).
 * `snapshots` and `checkpoints` are oldest first.
 */
export function resumableCheckpoints(snapshots: readonly SnapshotManifest[], checkpoints: readonly SnapshotManifest[]): Set<string> {
  const newest = new Map<string, SnapshotManifest>();
  for (const snapshot of snapshots) newest.set(group(snapshot), snapshot);
  const kept = new Map<string, string>();
  for (const checkpoint of checkpoints) {
    const parent = newest.get(group(checkpoint));
    if (canResume(checkpoint, parent, parent?.id)) kept.set(group(checkpoint), checkpoint.id);
  }
  return new Set(kept.values());
}

const group = (manifest: SnapshotManifest) => `${manifest.policy}\u0000${manifest.shard}`;
