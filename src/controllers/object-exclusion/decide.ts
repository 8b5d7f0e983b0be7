// Pure validation of an ObjectExclusion.
import type { BackupPolicy } from '../../api/backup-policy.ts';
import type { ObjectExclusion } from '../../api/object-exclusion.ts';
import { failed, ok, type Verdict } from '../verdict.ts';

export interface ObjectExclusionInput {
  exclusion: ObjectExclusion;
  policy: BackupPolicy | undefined;
}

export function decideObjectExclusionReady({ exclusion, policy }: ObjectExclusionInput): Verdict {
  if (!policy) {
    return failed(
      'PolicyNotFound',
      `BackupPolicy "${exclusion.spec.policyRef.name}" named in spec.policyRef does not exist in this namespace.`,
    );
  }
  const seen = new Set<string>();
  for (const [index, object] of exclusion.spec.objects.entries()) {
    const key = `${object.account ?? ''}\u0000${object.objectId}\u0000${object.version}`;
    if (seen.has(key)) {
      return failed('InvalidConfiguration', `spec.objects[${index}] repeats object ${object.objectId} version ${object.version}.`);
    }
    seen.add(key);
  }
  return ok(
    'Ready',
    `${exclusion.spec.objects.length} object version(s) are recorded for exclusion from BackupPolicy "${policy.metadata.name}".`,
  );
}
