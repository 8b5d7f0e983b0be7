// Every kind of the API, in the order they depend on each other.
import { backupPolicyKind } from './backup-policy.ts';
import { backupRunKind } from './backup-run.ts';
import { connectorKind } from './connector.ts';
import type { KindDefinition } from './kind.ts';
import { objectExclusionKind } from './object-exclusion.ts';
import { restoreRequestKind } from './restore-request.ts';

export const KINDS: readonly KindDefinition[] = [connectorKind, backupPolicyKind, backupRunKind, restoreRequestKind, objectExclusionKind];
