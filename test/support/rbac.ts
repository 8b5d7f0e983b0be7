// Installs config/rbac/ into the test apiserver and returns a kubeconfig whose token is the
// controller ServiceAccount's: the controller under test has exactly the permissions we ship.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { adminKubeConfig, sharedServiceAccountKubeConfig } from '../envtest/context.ts';
import { apply, readManifests } from './kube.ts';

export const CONTROLLER_NAMESPACE = 'saasbackup-system';
export const CONTROLLER_SERVICE_ACCOUNT = 'saasbackup-controller';
const RBAC_DIR = fileURLToPath(new URL('../../config/rbac/', import.meta.url));

export async function installControllerRbac(): Promise<void> {
  const admin = adminKubeConfig();
  await apply(admin, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: CONTROLLER_NAMESPACE } });
  for (const file of readdirSync(RBAC_DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')) {
    for (const manifest of readManifests(path.join(RBAC_DIR, file))) await apply(admin, manifest);
  }
}

/** A kubeconfig file for the controller ServiceAccount, bound only to the rules in config/rbac/. */
export async function controllerKubeconfigPath(): Promise<string> {
  await installControllerRbac();
  const account = await sharedServiceAccountKubeConfig(CONTROLLER_NAMESPACE, CONTROLLER_SERVICE_ACCOUNT);
  return account.kubeconfigPath;
}
