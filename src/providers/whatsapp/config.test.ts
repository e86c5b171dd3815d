// The whatsapp settings of the configuration: defaults, parsing and refusals.
import { expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/index.js';

it('defaults, parses and refuses the WhatsApp variables', () => {
  expect(loadConfig({}).whatsapp).toEqual({
    wsUrl: undefined,
    trustRootKey: undefined,
    maxReconnectAttempts: 10,
    healthCheckIntervalMs: 30_000,
    historyDays: 7,
    decryptRetryMs: 15_000,
  });
  const key = Buffer.alloc(32, 7).toString('base64');
  expect(
    loadConfig({
      WHATSAPP_WS_URL: 'ws://127.0.0.1:4000/ws/chat',
      WHATSAPP_TRUST_ROOT_KEY: key,
      MAX_RECONNECT_ATTEMPTS: '3',
      HEALTH_CHECK_INTERVAL_MS: '0',
      WHATSAPP_HISTORY_DAYS: '0',
      WHATSAPP_DECRYPT_RETRY_MS: '0',
    }).whatsapp,
  ).toEqual({
    wsUrl: 'ws://127.0.0.1:4000/ws/chat',
    trustRootKey: key,
    maxReconnectAttempts: 3,
    healthCheckIntervalMs: 0,
    historyDays: 0,
    decryptRetryMs: 0,
  });
  const bad = {
    WHATSAPP_WS_URL: 'http://x',
    WHATSAPP_TRUST_ROOT_KEY: 'short',
    MAX_RECONNECT_ATTEMPTS: '0',
    WHATSAPP_HISTORY_DAYS: '-1',
  };
  let err: unknown = null;
  try {
    loadConfig(bad);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  const problems = (err as ConfigError).problems.join('\n');
  expect(problems).toContain('WHATSAPP_WS_URL');
  expect(problems).toContain('WHATSAPP_TRUST_ROOT_KEY');
  expect(problems).toContain('MAX_RECONNECT_ATTEMPTS');
  expect(problems).toContain('WHATSAPP_HISTORY_DAYS');
});
