// `forget`: apply a retention policy to the snapshots of a repository (grouped by policy and
// shard, as restic groups by host and paths) and delete the manifests it does not keep. The data
// stays until prune; a manifest under Object Lock is kept and reported.
import { isRepositoryError } from './errors.ts';
import type { SnapshotManifest } from './model.ts';
import type { Repository } from './repository.ts';
import { applyRetention, type RetentionPolicy, type RetentionReason } from './retention.ts';

export interface ForgetReport {
  kept: { snapshot: SnapshotManifest; reasons: RetentionReason[] }[];
  removed: SnapshotManifest[];
  /** Manifests the policy would remove but Object Lock protects. */
  locked: SnapshotManifest[];
  emptyPolicy: boolean;
}

export function snapshotGroup(snapshot: SnapshotManifest): string {
  return `${snapshot.policy}/${snapshot.shard}`;
}

export async function forget(
  repository: Repository,
  policy: RetentionPolicy,
  options: { timeZone?: string; dryRun?: boolean; policyName?: string } = {},
): Promise<ForgetReport> {
  const snapshots = (await repository.snapshots()).filter((s) => !options.policyName || s.policy === options.policyName);
  const decision = applyRetention(
    snapshots.map((snapshot) => ({ id: snapshot.id, time: new Date(snapshot.time), group: snapshotGroup(snapshot), snapshot })),
    policy,
    { ...(options.timeZone ? { timeZone: options.timeZone } : {}), now: repository.clock() },
  );
  const report: ForgetReport = {
    kept: decision.keep.map(({ snapshot, reasons }) => ({ snapshot: snapshot.snapshot, reasons })),
    removed: [],
    locked: [],
    emptyPolicy: decision.emptyPolicy,
  };
  for (const { snapshot } of decision.remove) {
    if (options.dryRun) {
      report.removed.push(snapshot);
      continue;
    }
    try {
      await repository.storage.delete(`snapshots/${snapshot.id}`);
      report.removed.push(snapshot);
    } catch (error) {
      if (!isRepositoryError(error, 'ObjectLocked')) throw error;
      report.locked.push(snapshot);
    }
  }
  return report;
}
