// Broker address guard: every IPv4 spelling of loopback is refused without asking a resolver; names are resolved.
import { describe, expect, it } from 'vitest';
import { assertAllowedBroker, brokerHost, connectGuard } from './guard.js';

// No DNS in tests: a name reaching this resolver fails the test's expectations (it never leaves the machine).
const noDns = async (): Promise<never> => {
  throw new Error('no DNS here');
};

describe('broker address guard', () => {
  it('normalises IPv4 spellings in amqp and nats URLs', () => {
    expect(brokerHost('amqp://0x7f.1:5672/v')).toBe('127.0.0.1');
    expect(brokerHost('nats://2130706433:4222')).toBe('127.0.0.1');
    expect(brokerHost('amqp://[::ffff:7f00:1]:5672')).toBe('::ffff:7f00:1');
  });

  it('refuses loopback, private and metadata addresses in every spelling at registration and at connect', async () => {
    for (const url of [
      'amqp://127.0.0.1:5672/',
      'amqp://0x7f.1:5672/',
      'amqps://2130706433/',
      'nats://0177.0.0.1:4222',
      'nats://[::1]:4222',
      'amqp://[::ffff:127.0.0.1]/',
      'nats://169.254.169.254:4222',
      'amqp://10.1.2.3/',
    ]) {
      await expect(
        assertAllowedBroker([url], 'url', { allowPrivate: false, resolve: noDns }),
        url,
      ).rejects.toThrow(/private, loopback or link-local/);
      const host = new URL(url).hostname;
      expect(() => connectGuard(host, { allowPrivate: false, resolve: noDns }), url).toThrow(
        /does not contact/,
      );
    }
  });

  it('resolves names (registration refuses a name resolving to loopback) and lets everything through when allowed', async () => {
    const toLoopback = async () => [{ address: '127.0.0.1', family: 4 }];
    await expect(
      assertAllowedBroker(['amqp://rabbit.internal.test/'], 'url', {
        allowPrivate: false,
        resolve: toLoopback,
      }),
    ).rejects.toThrow(/resolves to a private/);
    expect(
      connectGuard('rabbit.internal.test', { allowPrivate: false, resolve: toLoopback }).lookup,
    ).toBeTypeOf('function');
    await assertAllowedBroker(['amqp://127.0.0.1/'], 'url', { allowPrivate: true, resolve: noDns });
    expect(connectGuard('127.0.0.1', { allowPrivate: true })).toEqual({});
  });
});
