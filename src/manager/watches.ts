// Which reconcile keys an event on one kind wakes (controller-runtime's "watches" with map
// functions): a change to a Connector wakes the policies that use it; a change to a policy wakes
// its runs, restores and exclusions. Pure, so the mapping is unit-tested.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Caches } from '../controllers/context.ts';

export type Kind = 'connectors' | 'policies' | 'runs' | 'restores' | 'exclusions';

export interface WakeUp {
  kind: Kind;
  key: string;
}

function keyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function wakeUps(kind: Kind, object: KubernetesObject, caches: Caches): WakeUp[] {
  const namespace = object.metadata?.namespace ?? '';
  const name = object.metadata?.name ?? '';
  const own: WakeUp = { kind, key: keyOf(namespace, name) };
  if (kind === 'connectors') {
    return [
      own,
      ...caches.policies
        .list(namespace)
        .filter((policy) => policy.spec.connectorRef.name === name)
        .map((policy) => ({ kind: 'policies' as const, key: keyOf(namespace, policy.metadata.name) })),
    ];
  }
  if (kind === 'policies') {
    const referencing = <T extends { metadata: { name: string }; spec: { policyRef: { name: string } } }>(list: T[], target: Kind) =>
      list.filter((item) => item.spec.policyRef.name === name).map((item) => ({ kind: target, key: keyOf(namespace, item.metadata.name) }));
    return [
      own,
      ...referencing(caches.runs.list(namespace), 'runs'),
      ...referencing(caches.restores.list(namespace), 'restores'),
      ...referencing(caches.exclusions.list(namespace), 'exclusions'),
    ];
  }
  return [own];
}
