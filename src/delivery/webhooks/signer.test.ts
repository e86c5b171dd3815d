// The signer against the standardwebhooks library: the same signatures, verified by the library, rotation included.
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { generateSecret, sign, signedHeaders } from './signer.js';

const bodies = [
  '',
  '{}',
  JSON.stringify({ type: 'message', data: { message: { body: 'olá ü 😀 مرحبا', n: 1.5 } } }),
  'x'.repeat(70_000),
];

describe('webhook signer', () => {
  it('signs as the library does, for new and migrated secrets and any body', () => {
    const secrets = [
      generateSecret(),
      generateSecret(),
      // Migration 0018's secrets: whsec_ + base64 of a SHA-256 digest.
      `whsec_${randomBytes(32).toString('base64')}`,
      // Without the prefix, as the library accepts it.
      randomBytes(24).toString('base64'),
    ];
    const at = new Date('2026-12-02T05:00:00.987Z');
    for (const secret of secrets) {
      for (const body of bodies) {
        expect(sign(secret, 'evt_1', at, body)).toBe(new Webhook(secret).sign('evt_1', at, body));
      }
    }
  });

  it('sends both signatures during a rotation, each verified by the library', () => {
    const [a, b] = [generateSecret(), generateSecret()];
    const body = bodies[2]!;
    const headers = signedHeaders([a, b], '42', new Date(), body);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    for (const secret of [a, b]) expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow();
  });

  it('refuses a secret the library refuses', () => {
    expect(() => sign('whsec_not base64!', '1', new Date(), '{}')).toThrow();
  });
});
