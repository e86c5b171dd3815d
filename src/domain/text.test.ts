// Hostile text helpers: detection with a path, scrubbing to U+FFFD, and the JSON depth scan.
import { describe, expect, it } from 'vitest';
import { findHostileText, hostileReason, jsonTooDeep, scrubDeep, scrubText } from './text.js';

describe('hostile text', () => {
  it('finds NUL characters and lone surrogates, and accepts well-formed text (emoji included)', () => {
    expect(hostileReason('a\u0000b')).toMatch(/NUL/);
    expect(hostileReason('a\ud800b')).toMatch(/surrogate/);
    expect(hostileReason('\udc00')).toMatch(/surrogate/);
    expect(hostileReason('end\ud83d')).toMatch(/surrogate/);
    expect(hostileReason('💥 héllo %00 \\u0000')).toBeNull();
  });

  it('names the first bad field by its dotted path, object keys included', () => {
    expect(findHostileText({ a: 'ok', settings: { list: ['x', 'y\u0000'] } })).toEqual({
      path: 'settings.list.1',
      message: expect.stringMatching(/NUL/),
    });
    expect(findHostileText({ labels: { 'k\ud800': 1 } })?.path).toBe('labels.k\uFFFD');
    expect(findHostileText({ a: [1, true, null, { b: '💥' }] })).toBeNull();
  });

  it('scrubs to U+FFFD, keeping the rest of the text and untouched objects as they are', () => {
    expect(scrubText('Ev\u0000e \ud800!')).toBe('Ev\uFFFDe \uFFFD!');
    expect(scrubText('👍')).toBe('👍');
    const clean = { body: 'hi', media: { size: 1 } };
    expect(scrubDeep(clean)).toBe(clean);
    const dirty = {
      body: 'a\u0000',
      list: ['\udfff', 'ok'],
      nested: { 'k\u0000': 'v' },
      n: 1,
      buf: Buffer.from('x'),
    };
    const out = scrubDeep(dirty);
    expect(out).toEqual({
      body: 'a\uFFFD',
      list: ['\uFFFD', 'ok'],
      nested: { 'k\uFFFD': 'v' },
      n: 1,
      buf: dirty.buf,
    });
    expect(findHostileText(out)).toBeNull();
    expect(dirty.body).toBe('a\u0000');
  });

  it('measures JSON nesting without parsing, ignoring brackets inside strings', () => {
    expect(jsonTooDeep(`${'['.repeat(64)}${']'.repeat(64)}`)).toBe(false);
    expect(jsonTooDeep(`${'['.repeat(65)}${']'.repeat(65)}`)).toBe(true);
    expect(jsonTooDeep(`${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`)).toBe(true);
    expect(jsonTooDeep(JSON.stringify({ text: '['.repeat(500), q: 'say \\"[[[' }))).toBe(false);
    expect(jsonTooDeep('{"a": [1, {"b": [2]}]}', 4)).toBe(false);
    expect(jsonTooDeep('{"a": [1, {"b": [2]}]}', 3)).toBe(true);
  });
});

describe('hostile text in parsed requests', () => {
  it('looks into objects with any prototype (Fastify query and params objects) but not into bytes', () => {
    const query = Object.create(Object.create(null));
    query.chat_id = 'x\u0000';
    expect(findHostileText(query)).toEqual({ path: 'chat_id', message: expect.stringMatching(/NUL/) });
    expect(findHostileText({ raw: Buffer.from([0, 0xd8]) })).toBeNull();
  });
});
