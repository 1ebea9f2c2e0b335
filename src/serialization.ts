/**
 * Job arguments in persistent stores: JSON plus `Date`. Anything else is refused when the job is
 * added, with the path of the offending value (`args[1].conn`).
 */
import { SerializationError } from './errors.js';

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const DATE_TAG = '$date';
const OBJECT_TAG = '$object';

function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/**
 * Sets `key` as an own, enumerable property: an assignment would run the `__proto__` setter,
 * dropping the key (on encoding) or making the value the object's prototype (on decoding).
 */
function ownProperty(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function encode(value: unknown, path: string, seen: Set<object>): Json {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value))
        throw new SerializationError(path, `${value} is not representable in JSON`);
      return value;
    case 'undefined':
      throw new SerializationError(path, 'undefined is not representable in JSON (use null)');
    case 'bigint':
      throw new SerializationError(path, 'a bigint is not representable in JSON (convert it to a string)');
    case 'function':
      throw new SerializationError(path, 'a function cannot be stored (pass a task reference instead)');
    case 'symbol':
      throw new SerializationError(path, 'a symbol cannot be stored');
  }
  if (value === null) return null;
  const object = value as object;
  if (object instanceof Date) {
    if (Number.isNaN(object.getTime()))
      throw new SerializationError(path, 'an invalid Date cannot be stored');
    return { [DATE_TAG]: object.toISOString() };
  }
  if (seen.has(object)) throw new SerializationError(path, 'a circular reference cannot be stored');
  seen.add(object);
  try {
    if (Array.isArray(object)) {
      const out: Json[] = [];
      for (let i = 0; i < object.length; i++) {
        if (!(i in object))
          throw new SerializationError(childPath(path, i), 'a hole in an array cannot be stored');
        out.push(encode(object[i], childPath(path, i), seen));
      }
      return out;
    }
    const proto = Object.getPrototypeOf(object);
    if (proto !== Object.prototype && proto !== null) {
      const kind = (proto?.constructor?.name as string | undefined) ?? 'object';
      throw new SerializationError(
        path,
        `an instance of ${kind} cannot be stored (only plain objects, arrays and Dates)`,
      );
    }
    if (Object.getOwnPropertySymbols(object).length > 0) {
      throw new SerializationError(path, 'symbol-keyed properties cannot be stored');
    }
    const out: { [key: string]: Json } = {};
    for (const [key, child] of Object.entries(object)) {
      ownProperty(out, key, encode(child, childPath(path, key), seen));
    }
    // Keep user objects that look like our tags apart from the tags themselves.
    if (DATE_TAG in out || OBJECT_TAG in out) return { [OBJECT_TAG]: out };
    return out;
  } finally {
    seen.delete(object);
  }
}

/** Encodes job arguments to JSON; throws `SerializationError` naming the path of a bad value. */
export function encodeArgs(args: readonly unknown[], path = 'args'): Json[] {
  return encode(args, path, new Set()) as Json[];
}

function decode(value: Json): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(decode);
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === DATE_TAG && typeof value[DATE_TAG] === 'string') {
    return new Date(value[DATE_TAG]);
  }
  const source =
    keys.length === 1 && keys[0] === OBJECT_TAG ? (value[OBJECT_TAG] as { [key: string]: Json }) : value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(source)) ownProperty(out, key, decode(child));
  return out;
}

/** Decodes arguments made by `encodeArgs`. */
export function decodeArgs(json: Json[]): unknown[] {
  return decode(json) as unknown[];
}
