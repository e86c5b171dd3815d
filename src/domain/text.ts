// Hostile text: finds NUL bytes and lone surrogates (which PostgreSQL cannot store), scrubs them, measures JSON depth.

/** What replaces a NUL or a lone surrogate in scrubbed text: U+FFFD REPLACEMENT CHARACTER. */
export const REPLACEMENT = '\uFFFD';

/** Nesting limit for JSON request bodies (objects and arrays), checked before parsing. */
export const MAX_JSON_DEPTH = 64;

/** A high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

/** Why a string cannot be stored, or null when it can. */
export function hostileReason(s: string): string | null {
  if (s.includes('\u0000')) return 'must not contain a NUL character (U+0000)';
  if (LONE_SURROGATE.test(s)) return 'must not contain a lone UTF-16 surrogate (invalid Unicode)';
  return null;
}

/** NUL characters and lone surrogates replaced by U+FFFD; any other text is returned unchanged. */
export function scrubText(s: string): string {
  if (hostileReason(s) === null) return s;
  return s.replaceAll('\u0000', REPLACEMENT).replace(LONE_SURROGATES, REPLACEMENT);
}

/** Parsed JSON and hand-built records (not Buffers, Dates or class instances, which are left alone). */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * The first string (or object key) in `value` that cannot be stored: its dotted path and why. Depth-first, through
 * arrays and every object's own enumerable properties (parsed query strings have an unusual prototype), not bytes.
 */
export function findHostileText(value: unknown, path = ''): { path: string; message: string } | null {
  if (typeof value === 'string') {
    const message = hostileReason(value);
    return message ? { path, message } : null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findHostileText(value[i], path ? `${path}.${i}` : String(i));
      if (hit) return hit;
    }
    return null;
  }
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value) && !(value instanceof Date)) {
    for (const [k, v] of Object.entries(value)) {
      const at = path ? `${path}.${scrubText(k)}` : scrubText(k);
      const keyReason = hostileReason(k);
      if (keyReason) return { path: at, message: `the key ${keyReason}` };
      const hit = findHostileText(v, at);
      if (hit) return hit;
    }
  }
  return null;
}

/**
 * A copy of `value` with every string and object key scrubbed (see scrubText). Values without hostile text come
 * back as the same object, so the common case allocates nothing.
 */
export function scrubDeep<T>(value: T): T {
  if (typeof value === 'string') return scrubText(value) as T;
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    for (let i = 0; i < value.length; i++) {
      const v = scrubDeep(value[i]);
      if (v !== value[i]) {
        out ??= value.slice();
        out[i] = v;
      }
    }
    return (out ?? value) as T;
  }
  if (isPlainObject(value)) {
    if (findHostileText(value) === null) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[scrubText(k)] = scrubDeep(v);
    return out as T;
  }
  return value;
}

/**
 * True when the JSON text nests objects/arrays deeper than `max`. A linear scan that skips string contents, so a
 * hostile body is refused before JSON.parse (and anything recursive after it) sees it.
 */
export function jsonTooDeep(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** True when a parsed JSON value nests objects/arrays deeper than `max` (iterative: no recursion on hostile input). */
export function valueTooDeep(value: unknown, max = MAX_JSON_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, d + 1]);
    }
  }
  return false;
}
