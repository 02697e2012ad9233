/**
 * Records keyed by data (group keys, CSV columns, source field names): a key named "__proto__" must be an
 * ordinary own property, not the prototype accessor that plain assignment and lookup go through.
 */
export function ownGet<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

export function ownSet<T>(record: Record<string, T>, key: string, value: T): void {
  if (key === "__proto__") Object.defineProperty(record, key, { value, writable: true, enumerable: true, configurable: true });
  else record[key] = value;
}
