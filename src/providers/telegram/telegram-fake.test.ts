// Telegram long polling against our Bot API fake: 409 conflicts, outages, offsets, revoked tokens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeBotApi } from '../../../test/emulators/telegram/fake-bot-api.js';
import { eventually } from '../../../test/support/gateway.js';
import type { ProviderEvent, SessionContext } from '../../ports/provider.js';
import { createTelegramProvider } from './index.js';

const TOKEN = '987654321:AAFfakeTOKENfakeTOKENfakeTOKEN_xyz-9';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

describe('telegram long polling against the Bot API fake', () => {
  const fake = new FakeBotApi();

  beforeAll(async () => {
    fake.addBot(TOKEN, { id: 987654321, username: 'switchboard_test_bot' });
    await fake.start();
  });
  afterAll(() => fake.stop());

  function session(opts: { sleeps: number[] }) {
    const events: ProviderEvent[] = [];
    const factory = createTelegramProvider({
      apiRoot: fake.url,
      pollTimeoutSec: 1,
      backoffBaseMs: 1000,
      backoffMaxMs: 60_000,
      // Record the requested pauses but wait only briefly, so the test sees the backoff without sleeping it.
      sleep: (ms, signal) => {
        opts.sleeps.push(ms);
        return new Promise((r) => {
          const t = setTimeout(r, 5);
          signal.addEventListener('abort', () => {
            clearTimeout(t);
            r();
          });
        });
      },
    });
    const ctx: SessionContext = {
      instanceId: '00000000-0000-4000-8000-0000000000aa',
      companyId: 'c',
      previous: { auth_status: 'pending', account: null },
      settings: { token: TOKEN },
      emit: async (e) => {
        events.push(e);
      },
      logger: silent,
    };
    return { s: factory.createSession(ctx), events };
  }

  it('reports a 409 Conflict once and backs off exponentially instead of spinning', async () => {
    fake.conflicts = 5;
    const sleeps: number[] = [];
    const { s, events } = session({ sleeps });
    await s.start();
    expect(events[0]).toMatchObject({
      type: 'auth',
      auth_status: 'client_ready',
      account: '@switchboard_test_bot',
    });
    await eventually(() => fake.conflicts === 0 && sleeps.length >= 5);
    const conflictErrors = events.filter((e) => e.type === 'error' && e.code === 'telegram_conflict');
    expect(conflictErrors).toHaveLength(1);
    // One pause per 409, each roughly double the last (±20 % jitter), never zero.
    const pauses = sleeps.slice(0, 5);
    expect(pauses[0]).toBeGreaterThanOrEqual(800);
    for (let i = 1; i < pauses.length; i++) expect(pauses[i]).toBeGreaterThan(pauses[i - 1]);
    expect(pauses[4]).toBeGreaterThanOrEqual(16_000 * 0.8 - 1);
    // After the conflict clears, polling resumes and updates flow.
    fake.pushUpdate(TOKEN, {
      message: {
        message_id: 9,
        date: 1_700_000_100,
        chat: { id: 55, type: 'private', first_name: 'Cy' },
        text: 'back',
      },
    });
    await eventually(() => events.find((e) => e.type === 'message'));
    const msg = events.find((e) => e.type === 'message');
    expect(msg).toMatchObject({
      type: 'message',
      message: { message_id: '55:9', body: 'back', chat_id: '55' },
    });
    // The auth status never dropped: a conflict is not a disconnect.
    expect(events.filter((e) => e.type === 'auth')).toHaveLength(1);
    // stop() resolves once the loop has ended: a request already in flight may still land, nothing after it.
    await s.stop();
    await new Promise((r) => setTimeout(r, 50));
    const polls = fake.callsOf('getUpdates').length;
    await new Promise((r) => setTimeout(r, 100));
    expect(fake.callsOf('getUpdates').length).toBe(polls);
  });

  it('advances the offset only after an update was emitted, so nothing is lost or repeated', async () => {
    const sleeps: number[] = [];
    const { s, events } = session({ sleeps });
    await s.start();
    const from = fake.calls.length;
    fake.pushUpdate(TOKEN, {
      message: { message_id: 10, date: 1_700_000_200, chat: { id: 56, type: 'private' }, text: 'one' },
    });
    const last = fake.pushUpdate(TOKEN, {
      edited_message: {
        message_id: 10,
        date: 1_700_000_200,
        edit_date: 1_700_000_300,
        chat: { id: 56, type: 'private' },
        text: 'one!',
      },
    });
    await eventually(() => events.filter((e) => e.type === 'message').length === 2);
    const [first, edit] = events.filter((e) => e.type === 'message') as Array<
      Extract<ProviderEvent, { type: 'message' }>
    >;
    expect(first.message).toMatchObject({ message_id: '56:10', body: 'one', type: 'text' });
    expect(edit.message).toMatchObject({
      message_id: '56:10:e1700000300',
      body: 'one!',
      type: 'edited',
      reply_to: '56:10',
    });
    // The next poll confirms both updates (offset = last id + 1), so Telegram drops them only now.
    await eventually(() =>
      fake.calls.slice(from).some((c) => c.method === 'getUpdates' && Number(c.fields.offset) === last + 1),
    );
    expect(events.filter((e) => e.type === 'message')).toHaveLength(2);
    await s.stop();
  });

  it('a Bot API outage is reconnecting with backoff, then client_ready again', async () => {
    const sleeps: number[] = [];
    const { s, events } = session({ sleeps });
    await s.start();
    fake.serverErrors = 3;
    await eventually(() => fake.serverErrors === 0 && events.filter((e) => e.type === 'auth').length >= 3);
    const auth = events.filter((e) => e.type === 'auth').map((e) => (e.type === 'auth' ? e.auth_status : ''));
    expect(auth).toEqual(['client_ready', 'reconnecting', 'client_ready']);
    expect(sleeps.slice(0, 3).every((ms, i, a) => ms >= 800 && (i === 0 || ms > a[i - 1]))).toBe(true);
    await s.stop();
  });

  it('a revoked token fails the session without retrying', async () => {
    const sleeps: number[] = [];
    const events: ProviderEvent[] = [];
    const s = createTelegramProvider({ apiRoot: fake.url }).createSession({
      instanceId: '00000000-0000-4000-8000-0000000000bb',
      companyId: 'c',
      previous: { auth_status: 'client_ready', account: '@x' },
      settings: { token: '5:AArevokedTOKENrevokedTOKENrevoked' },
      emit: async (e) => {
        events.push(e);
      },
      logger: silent,
    });
    await s.start();
    expect(events).toEqual([
      { type: 'auth', auth_status: 'failed', reason: 'bot token rejected by Telegram (401)' },
    ]);
    expect(sleeps).toHaveLength(0);
    await s.stop();
  });
});
