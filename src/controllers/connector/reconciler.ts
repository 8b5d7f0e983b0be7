// Connector reconciler: checks what the schema cannot (the credential Secret and its keys) and
// reports Ready. It does not sign in to the tenant: the backup worker does, and discovers the
// accounts, when it runs.
import { connectorKind } from '../../api/connector.ts';
import type { Reconciler, ObjectKey, ReconcileResult } from '../../runtime/types.ts';
import { RECHECK_AFTER_MS, type ControllerContext } from '../context.ts';
import { loadSecretKeys } from '../secrets.ts';
import { conditionUpdate, updateStatus } from '../status.ts';
import { connectorSecretNames, decideConnectorReady } from './decide.ts';

export class ConnectorReconciler implements Reconciler {
  readonly name = 'connector';
  readonly #context: ControllerContext;

  constructor(context: ControllerContext) {
    this.#context = context;
  }

  async reconcile({ namespace, name }: ObjectKey, signal: AbortSignal): Promise<ReconcileResult | void> {
    const connector = this.#context.caches.connectors.get(namespace, name);
    if (!connector || connector.metadata.deletionTimestamp) return;
    const secrets = await loadSecretKeys(this.#context, namespace, connectorSecretNames(connector), signal);
    const ready = decideConnectorReady({ connector, secrets });
    await updateStatus(this.#context, connectorKind, connector, [conditionUpdate('Ready', ready)], {}, signal);
    // Secrets are not watched: look again so that creating the missing Secret is noticed.
    if (ready.reason === 'SecretNotFound') return { requeueAfterMs: RECHECK_AFTER_MS };
  }
}
