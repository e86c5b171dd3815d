// The provider contract suite: every provider (simulator, telegram, waha, …) runs these same tests.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_STATUSES, MESSAGE_STATUSES } from '../domain/statuses.js';
import type { ProviderEvent, ProviderFactory, ProviderSession, SessionContext } from '../ports/provider.js';

/** What a provider's contract test supplies: a factory wired to its emulator, and hooks to drive that emulator. */
export interface ContractHarness {
  factory: ProviderFactory;
  /** Settings of each instance (e.g. a bot token); default {}. */
  settings?: Record<string, unknown>;
  /** A recipient the provider accepts, in its addressing (a JID or a chat id). */
  recipient: string;
  /** Completes a QR login (the emulator's "phone" scans). Needed when the provider shows a QR first. */
  login?(session: ProviderSession, instanceId: string): Promise<void>;
  /** Called when a session is created (e.g. to route emulator webhooks to it). */
  attach?(session: ProviderSession, instanceId: string): void;
  /** Makes a contact write to the session; resolves with the provider message id it should report. */
  inbound(session: ProviderSession, instanceId: string, text: string): Promise<string>;
  /** True when the emulator saw the sent message (checked after send). */
  delivered?(messageId: string, text: string): Promise<boolean> | boolean;
  close?(): Promise<void>;
}

/** A session with the events it emitted, in order. */
export interface ContractSession {
  session: ProviderSession;
  events: ProviderEvent[];
  instanceId: string;
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

async function until<T>(fn: () => T | Promise<T>, ms = 5000): Promise<NonNullable<T>> {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() - start > ms) throw new Error(`contract: condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Opens a session of the harness's provider with a recording context. */
export function openContractSession(
  h: ContractHarness,
  previous?: SessionContext['previous'],
): ContractSession {
  const events: ProviderEvent[] = [];
  const instanceId = randomUUID();
  const ctx: SessionContext = {
    instanceId,
    companyId: 'contract-co',
    previous: previous ?? { auth_status: 'pending', account: null },
    settings: h.settings ?? {},
    emit: async (e) => {
      events.push(e);
    },
    logger: silent,
  };
  const session = h.factory.createSession(ctx);
  h.attach?.(session, instanceId);
  return { session, events, instanceId };
}

/** Checks that an event has the shape the core relies on. */
export function expectWellFormed(e: ProviderEvent): void {
  switch (e.type) {
    case 'auth':
      expect(AUTH_STATUSES).toContain(e.auth_status);
      break;
    case 'qr':
      expect(typeof e.qr).toBe('string');
      expect(e.qr.length).toBeGreaterThan(0);
      break;
    case 'message':
      expect(e.message.message_id).toBeTruthy();
      expect(e.message.chat_id).toBeTruthy();
      expect(Number.isNaN(Date.parse(e.message.timestamp))).toBe(false);
      expect(typeof e.message.is_from_me).toBe('boolean');
      expect(typeof e.message.is_group).toBe('boolean');
      break;
    case 'ack':
      expect(MESSAGE_STATUSES).toContain(e.status);
      break;
    case 'history':
      for (const n of [e.received, e.stored, e.duplicates, e.too_old, e.skipped]) {
        expect(Number.isInteger(n) && n >= 0).toBe(true);
      }
      expect(e.stored + e.duplicates + e.too_old + e.skipped).toBeLessThanOrEqual(e.received);
      break;
    case 'decrypt_failed':
      expect(e.message_id).toBeTruthy();
      expect(e.attempts).toBeGreaterThan(0);
      break;
    default:
      expect(['error', 'reconnect_failed', 'health_check_failed']).toContain(e.type);
  }
}

/** Brings a session to client_ready: start, then a QR login when the provider shows a QR. */
async function connect(h: ContractHarness, s: ContractSession): Promise<void> {
  await s.session.start();
  const first = await until(() =>
    s.events.find((e) => e.type === 'qr' || (e.type === 'auth' && e.auth_status === 'client_ready')),
  );
  if (first.type === 'qr') {
    expect(h.factory.capabilities.has('qr')).toBe(true);
    if (!h.login) throw new Error('contract: the provider shows a QR but the harness has no login()');
    await h.login(s.session, s.instanceId);
  }
  await until(() => s.events.find((e) => e.type === 'auth' && e.auth_status === 'client_ready'));
}

/**
 * Registers the contract tests for one provider: start → (qr → login) → client_ready → inbound → send → stop,
 * with every emitted ProviderEvent checked for shape and order.
 */
export function runProviderContract(opts: { name: string; create: () => Promise<ContractHarness> }): void {
  describe(`provider contract: ${opts.name}`, () => {
    let h: ContractHarness;
    const open: ContractSession[] = [];
    const session = (previous?: SessionContext['previous']) => {
      const s = openContractSession(h, previous);
      open.push(s);
      return s;
    };

    beforeAll(async () => {
      h = await opts.create();
    });
    afterAll(async () => {
      // Stopping is idempotent by contract: a stop that fails here is the provider's defect, reported after cleanup.
      const failed: string[] = [];
      for (const s of open) await s.session.stop().catch((err: Error) => failed.push(err.message));
      await h?.close?.();
      expect(failed, 'session.stop() rejected while the contract cleaned up').toEqual([]);
    });

    it('declares a name, capabilities and an addressing', () => {
      expect(h.factory.name).toMatch(/^[a-z][a-z0-9_-]*$/);
      expect(h.factory.capabilities).toBeInstanceOf(Set);
      expect(['phone', 'chat_id']).toContain(h.factory.addressing);
      for (const secret of h.factory.secretSettings ?? []) expect(typeof secret).toBe('string');
    });

    it('start reaches client_ready (through a QR login when needed) with well-formed events', async () => {
      const s = session();
      await connect(h, s);
      for (const e of s.events) expectWellFormed(e);
      const readyAt = s.events.findIndex((e) => e.type === 'auth' && e.auth_status === 'client_ready');
      // Nothing says "logged out" or "failed" on the way to ready, and no QR after it.
      expect(
        s.events
          .slice(0, readyAt)
          .some((e) => e.type === 'auth' && ['logged_out', 'failed'].includes(e.auth_status)),
      ).toBe(false);
      expect(s.events.slice(readyAt).some((e) => e.type === 'qr')).toBe(false);
      const ready = s.events[readyAt] as Extract<ProviderEvent, { type: 'auth' }>;
      expect(ready.account).toBeTruthy();
      await s.session.stop();
    });

    it('reports an inbound message', async () => {
      const s = session();
      await connect(h, s);
      const id = await h.inbound(s.session, s.instanceId, 'contract inbound');
      const ev = await until(() => s.events.find((e) => e.type === 'message' && e.message.message_id === id));
      expectWellFormed(ev);
      expect(ev.type === 'message' && ev.message.body).toBe('contract inbound');
      expect(ev.type === 'message' && ev.message.is_from_me).toBe(false);
      await s.session.stop();
    });

    it('sends a text and returns a message id and time', async () => {
      const s = session();
      await connect(h, s);
      const r = await s.session.send({ to: h.recipient, text: 'contract send' });
      expect(typeof r.message_id).toBe('string');
      expect(r.message_id.length).toBeGreaterThan(0);
      expect(Number.isNaN(Date.parse(r.timestamp))).toBe(false);
      if (h.delivered) expect(await h.delivered(r.message_id, 'contract send')).toBe(true);
      const again = await s.session.send({ to: h.recipient, text: 'contract send 2' });
      expect(again.message_id).not.toBe(r.message_id);
      await s.session.stop();
    });

    it('stop is idempotent and ends sending', async () => {
      const s = session();
      await connect(h, s);
      await s.session.stop();
      await s.session.stop();
      await expect(s.session.send({ to: h.recipient, text: 'after stop' })).rejects.toThrow();
    });
  });
}
