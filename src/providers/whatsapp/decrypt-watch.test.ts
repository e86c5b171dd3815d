// Decrypt failures wait for a re-send; one report per message id when none comes; a decrypted copy clears it.
import { proto, type WAMessage } from 'baileys';
import { describe, expect, it } from 'vitest';
import type { ProviderEvent } from '../../ports/provider.js';
import { DecryptWatch } from './decrypt-watch.js';

const stub = (id: string): WAMessage => ({
  key: { remoteJid: '4915100000001@s.whatsapp.net', fromMe: false, id },
  messageTimestamp: 1_764_590_400,
  messageStubType: proto.WebMessageInfo.StubType.CIPHERTEXT,
  messageStubParameters: ['Bad MAC'],
});

const harness = (retryWindowMs: number) => {
  const reports: ProviderEvent[] = [];
  const watch = new DecryptWatch({
    retryWindowMs,
    report: async (e) => void reports.push(e),
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  return { watch, reports };
};

describe('DecryptWatch', () => {
  it('recognises only content-less CIPHERTEXT stubs', () => {
    expect(DecryptWatch.isFailure(stub('A'))).toBe(true);
    expect(DecryptWatch.isFailure({ ...stub('A'), message: { conversation: 'x' } })).toBe(false);
    expect(DecryptWatch.isFailure({ key: { id: 'B' }, message: { conversation: 'x' } })).toBe(false);
  });

  it('reports once per id after the window, counting attempts', async () => {
    const { watch, reports } = harness(30);
    watch.failed(stub('A'));
    watch.failed(stub('A'));
    watch.failed(stub('A'));
    await expect.poll(() => reports.length).toBe(1);
    expect(reports[0]).toEqual({
      type: 'decrypt_failed',
      message_id: 'A',
      chat_id: '4915100000001@s.whatsapp.net',
      from: '4915100000001@s.whatsapp.net',
      error: 'Bad MAC',
      attempts: 3,
      timestamp: '2025-12-01T12:00:00.000Z',
    });
  });

  it('a decrypted copy within the window clears it; a stop reports what is still waiting', async () => {
    const { watch, reports } = harness(60_000);
    watch.failed(stub('OK'));
    watch.resolved('OK');
    watch.failed(stub('PENDING'));
    await watch.flushAll();
    expect(reports.map((r) => (r as { message_id: string }).message_id)).toEqual(['PENDING']);
    await watch.flushAll();
    expect(reports).toHaveLength(1);
  });
});
