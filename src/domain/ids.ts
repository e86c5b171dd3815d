// Identifier shapes: a row id is a UUID, checked before it reaches a query (a malformed id is a 404, not a 500).

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `id` is a UUID in its canonical 8-4-4-4-12 hex form (any case). */
export const isUuid = (id: string): boolean => UUID.test(id);
