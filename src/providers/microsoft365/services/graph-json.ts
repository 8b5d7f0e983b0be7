// How the services store a Graph entity whose content is its JSON (events, contacts, channel
// conversations): as Graph returned it, as canonical JSON, so that the same entity gives the same
// bytes whichever request and key order Graph used.

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const record = value as Record<string, unknown>;
  // fromEntries rather than assignment, so that a key named __proto__ stays a key.
  return Object.fromEntries(
    Object.keys(record)
      .sort()
      .map((key) => [key, sortKeys(record[key])]),
  );
}

/** JSON with object keys sorted at every level. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

/**
 * The entity without the response's annotations on it (`@odata.context`, `@odata.type`,
 * `@odata.etag`, `@removed`, `@microsoft.graph.*`): they describe the request, not the entity.
 * Annotations inside its properties (a nested `@odata.type`) say which type a value has and stay.
 */
export function graphEntity(entity: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(entity).filter(([key]) => !key.startsWith('@')));
}

/** An entity as Graph returned it, as canonical JSON bytes. */
export function graphEntityJson(entity: object): Buffer {
  return Buffer.from(canonicalJson(graphEntity(entity)));
}
