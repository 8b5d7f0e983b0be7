// BackupPolicy reconciler: checks the Connector, the services it offers, the schedule, and the
// storage Secrets, and reports Ready. It does not schedule runs yet.
import { backupPolicyKind } from '../../api/backup-policy.ts';
import type { Reconciler, ObjectKey, ReconcileResult } from '../../runtime/types.ts';
import { RECHECK_AFTER_MS, type ControllerContext } from '../context.ts';
import { loadSecretKeys } from '../secrets.ts';
import { conditionUpdate, updateStatus } from '../status.ts';
import { decideBackupPolicyReady, policySecretNames } from './decide.ts';

export class BackupPolicyReconciler implements Reconciler {
  readonly name = 'backuppolicy';
  readonly #context: ControllerContext;

  constructor(context: ControllerContext) {
    this.#context = context;
  }

  async reconcile({ namespace, name }: ObjectKey, signal: AbortSignal): Promise<ReconcileResult | void> {
    const { caches } = this.#context;
    const policy = caches.policies.get(namespace, name);
    if (!policy || policy.metadata.deletionTimestamp) return;
    const connector = caches.connectors.get(namespace, policy.spec.connectorRef.name);
    const secrets = await loadSecretKeys(this.#context, namespace, policySecretNames(policy), signal);
    const ready = decideBackupPolicyReady({ policy, connector, secrets });
    await updateStatus(this.#context, backupPolicyKind, policy, [conditionUpdate('Ready', ready)], {}, signal);
    if (ready.reason === 'SecretNotFound') return { requeueAfterMs: RECHECK_AFTER_MS };
  }
}
