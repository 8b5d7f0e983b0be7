// Controller owner references on children (Jobs, runs): the garbage collector deletes children
// with their owner, and a reconciler finds "its" children by the controller reference. Pure.

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** What an owner must have: the identity fields of a stored object. */
export interface OwnerObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; uid?: string };
}

interface OwnedObject {
  metadata?: { ownerReferences?: OwnerReference[] };
}

/** Thrown when a child already has a different controller: two controllers must not fight over it. */
export class AlreadyOwnedError extends Error {
  override readonly name = 'AlreadyOwnedError';
}

export function controllerReference(owner: OwnerObject): OwnerReference {
  const { apiVersion, kind } = owner;
  const name = owner.metadata?.name;
  const uid = owner.metadata?.uid;
  if (!apiVersion || !kind || !name || !uid) {
    throw new Error('an owner needs apiVersion, kind, metadata.name and metadata.uid (read it from the apiserver)');
  }
  return { apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true };
}

/**
 * Returns `references` with `owner` as the controller reference, replacing an older reference to
 * the same owner. Throws AlreadyOwnedError if another object is already the controller.
 */
export function withControllerReference(references: readonly OwnerReference[] | undefined, owner: OwnerObject): OwnerReference[] {
  const ref = controllerReference(owner);
  const current = (references ?? []).find((r) => r.controller === true);
  if (current && current.uid !== ref.uid) {
    throw new AlreadyOwnedError(`already controlled by ${current.kind} ${current.name} (uid ${current.uid})`);
  }
  return [...(references ?? []).filter((r) => r.uid !== ref.uid), ref];
}

/** A copy of `obj` whose ownerReferences name `owner` as its controller. */
export function setControllerReference<T extends OwnedObject>(obj: T, owner: OwnerObject): T {
  const ownerReferences = withControllerReference(obj.metadata?.ownerReferences, owner);
  return { ...obj, metadata: { ...obj.metadata, ownerReferences } };
}

export function getControllerOf(obj: OwnedObject): OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true);
}

export function isControlledBy(obj: OwnedObject, owner: OwnerObject): boolean {
  const uid = owner.metadata?.uid;
  return uid !== undefined && getControllerOf(obj)?.uid === uid;
}
