// Fuzzing every operation of the OpenAPI document with generated params, queries and bodies: never a 5xx.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrubText } from '../../src/domain/text.js';
import {
  createCompany,
  createConnectedInstance,
  startTestGateway,
  type TestGateway,
} from '../support/gateway.js';
import { listOperations, type Operation } from '../support/openapi.js';

/** Runs per operation: small in CI, larger with `npm run fuzz` (FUZZ_RUNS=2000). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 25);

/** Text PostgreSQL cannot store, and dates JavaScript parses but PostgreSQL cannot hold (or that do not exist). */
const hostileText = fc.constantFrom(
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udc00',
  '\ud83d',
  '10000-01-01',
  '+010000-01-01T00:00:00Z',
  '-010000-01-01T00:00:00Z',
  '0000-01-01T00:00:00Z',
  '2024-02-30T00:00:00Z',
  '9999-12-31T23:00:00-05:00',
);
/** Bodies nested far deeper than the 64-level cap, as raw JSON text (as an object they would overflow stringify). */
const DEEP = 5000;
const deepBody = fc.constantFrom(
  `${'['.repeat(DEEP)}${']'.repeat(DEEP)}`,
  `${'{"a":'.repeat(DEEP)}1${'}'.repeat(DEEP)}`,
  `{"settings":${'{"a":'.repeat(DEEP)}1${'}'.repeat(DEEP)}}`,
  `{"name":"x","text":${'['.repeat(100)}${']'.repeat(100)}}`,
);

const scalar = fc.oneof(
  hostileText,
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double({ noNaN: false }),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(
    '',
    ' ',
    '../../etc/passwd',
    '%00',
    '\u0000',
    '💥',
    '-1',
    '1e309',
    '00000000-0000-0000-0000-000000000000',
  ),
);
const json = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('value'), { maxLength: 4 }), tie('object')),
  object: fc.dictionary(
    fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom('to', 'text', 'company_id', 'provider', 'id', 'name', '__proto__', 'constructor'),
    ),
    tie('value'),
    { maxKeys: 6 },
  ),
})).value;
const segment = fc.oneof(
  fc.string({ maxLength: 30 }),
  hostileText,
  fc.uuid(),
  fc.constantFrom('..', '%2e%2e', ' ', 'a'.repeat(300)),
);

/** Percent-encodes a path segment; a lone surrogate (not Unicode, so not encodable) is sent as its raw WTF-8 bytes. */
function encodeSegment(v: string): string {
  try {
    return encodeURIComponent(v);
  } catch {
    return encodeURIComponent(scrubText(v)).replaceAll('%EF%BF%BD', '%ED%A0%80');
  }
}

describe('fuzzing every operation', () => {
  let t: TestGateway;
  let headers: Record<string, string>;
  let ops: Operation[];
  let instanceId: string;

  beforeAll(async () => {
    t = await startTestGateway({ env: { RESPONSE_VALIDATION: 'on' } });
    headers = await createCompany(t, 'fuzz');
    instanceId = (await createConnectedInstance(t, headers, 'fuzz')).id;
    ops = listOperations(t.app.swagger()).filter((o) => !o.path.startsWith('/docs'));
  });
  afterAll(async () => t?.close());

  it('answers generated input with a 2xx–4xx JSON response, never a 5xx', { timeout: 300_000 }, async () => {
    const failures: string[] = [];
    for (const op of ops) {
      await fc
        .assert(
          fc.asyncProperty(
            fc.record({
              params: fc.array(fc.oneof(segment, fc.constant(instanceId)), { minLength: 4, maxLength: 4 }),
              query: fc.dictionary(
                fc.constantFrom(
                  'limit',
                  'cursor',
                  'before',
                  'since',
                  'chat_id',
                  'format',
                  'status',
                  'types',
                  'query',
                  'tool',
                  'provider',
                  'company_id',
                  'x',
                ),
                fc.oneof(fc.string({ maxLength: 20 }), hostileText),
                { maxKeys: 3 },
              ),
              body: json,
              rawBody: fc.option(fc.oneof(fc.string({ maxLength: 60 }), deepBody), { nil: undefined }),
            }),
            async ({ params, query, body, rawBody }) => {
              let i = 0;
              const path = op.path.replace(/:([A-Za-z_]+)/g, () =>
                encodeSegment(params[i++ % params.length]),
              );
              const qs = new URLSearchParams(query).toString();
              const res = await t.app.inject({
                method: op.method as 'POST',
                url: qs ? `${path}?${qs}` : path,
                headers: { ...headers, 'content-type': 'application/json' },
                payload:
                  op.method === 'GET' || op.method === 'DELETE'
                    ? undefined
                    : (rawBody ?? JSON.stringify(body)),
              });
              // A 5xx is a failure unless the operation documents it (e.g. 503 for an empty warm pool).
              if (res.statusCode >= 500 && !op.responses.includes(res.statusCode)) {
                failures.push(
                  `${op.method} ${path}?${qs} body=${(rawBody ?? JSON.stringify(body)).slice(0, 120)} → ${res.statusCode} ${res.body.slice(0, 200)}`,
                );
                return false;
              }
              if (res.statusCode >= 400) {
                // The standard error body, or a seed API's documented legacy body ({error: string, message}).
                const b = res.json();
                const standard = typeof b.error?.code === 'string' && typeof b.error?.message === 'string';
                const legacy = typeof b.error === 'string' && op.responses.includes(res.statusCode);
                if (!standard && !legacy) {
                  failures.push(
                    `${op.method} ${path} → ${res.statusCode} without the error shape: ${res.body.slice(0, 200)}`,
                  );
                  return false;
                }
              }
              return true;
            },
          ),
          { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? 20261122) },
        )
        .catch(() => {});
    }
    expect(failures.slice(0, 10)).toEqual([]);
  });
});
