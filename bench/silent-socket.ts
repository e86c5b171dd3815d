// Benchmark: time to notice a WhatsApp socket that stays open but answers nothing (real Baileys, local emulator).
import { WA_CERT_DETAILS } from 'baileys';
import type { ProviderEvent, SessionContext } from '../src/ports/provider.js';
import { createWhatsAppProvider } from '../src/providers/whatsapp/index.js';
import { MemoryAuthStore } from '../src/providers/whatsapp/memory-auth.js';
import { WhatsAppEmulator } from '../test/emulators/whatsapp/emulator.js';
import { machine, main, progress, QUICK, report, round } from './support.js';

/** The health interval and Baileys' keep-alive, as deployed (30 s each); --quick scales both down to 10 s. */
const INTERVAL_MS = QUICK ? 10_000 : 30_000;
const KEEPALIVE_MS = INTERVAL_MS;

interface Run {
  /** Silence → the session reports the socket dead (health_check_failed, or reconnecting after Baileys' close). */
  notice_s: number;
  /** Silence → client_ready again on a new socket, from the stored creds. */
  back_s: number;
  how: string;
}

/** Links one session, silences its socket, and times how long until it is noticed and back. */
async function measure(emu: WhatsAppEmulator, phone: string, probeMs: number): Promise<Run> {
  const provider = createWhatsAppProvider({
    auth: new MemoryAuthStore(),
    wsUrl: emu.url,
    trustRootKey: emu.rootPublicKey.toString('base64'),
    healthCheckIntervalMs: probeMs,
    knobs: { keepAliveIntervalMs: KEEPALIVE_MS, backoffBaseMs: 100, backoffMaxMs: 200 },
  });
  const events: Array<{ at: number; e: ProviderEvent }> = [];
  const waiters = new Set<() => void>();
  const ctx: SessionContext = {
    instanceId: `bench-${phone}`,
    companyId: 'bench',
    previous: { auth_status: 'pending', account: null },
    settings: {},
    emit: async (e) => {
      events.push({ at: performance.now(), e });
      for (const w of waiters) w();
    },
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  };
  const until = (pred: (e: ProviderEvent) => boolean, from = 0): Promise<{ at: number; e: ProviderEvent }> =>
    new Promise((resolve) => {
      const check = () => {
        const hit = events.slice(from).find((x) => pred(x.e));
        if (hit) {
          waiters.delete(check);
          resolve(hit);
        }
      };
      waiters.add(check);
      check();
    });
  const ready = (e: ProviderEvent) => e.type === 'auth' && e.auth_status === 'client_ready';
  const session = provider.createSession(ctx);
  await session.start();
  const qr = (await until((e) => e.type === 'qr')).e as Extract<ProviderEvent, { type: 'qr' }>;
  await emu.scanQr(qr.qr, { phone });
  await until(ready);
  await until((e) => e.type === 'history' && e.complete);
  const from = events.length;
  const t0 = performance.now();
  emu.silenceLiveConnections(phone);
  const noticed = await until(
    (e) => e.type === 'health_check_failed' || (e.type === 'auth' && e.auth_status === 'reconnecting'),
    from,
  );
  const back = await until(ready, from);
  await session.stop();
  return {
    notice_s: round((noticed.at - t0) / 1000, 1),
    back_s: round((back.at - t0) / 1000, 1),
    how: noticed.e.type === 'health_check_failed' ? 'active probe' : 'Baileys keep-alive close',
  };
}

main(async () => {
  const rootKey = WA_CERT_DETAILS.PUBLIC_KEY;
  const emu = await WhatsAppEmulator.start();
  try {
    progress(`probe at ${INTERVAL_MS} ms, keep-alive at ${KEEPALIVE_MS} ms`);
    const probe = await measure(emu, '15550009001', INTERVAL_MS);
    progress(`probe: ${JSON.stringify(probe)}; now the baseline (probe off)`);
    const keepalive = await measure(emu, '15550009002', 0);
    progress(`keep-alive only: ${JSON.stringify(keepalive)}`);
    report({
      name: 'silent-socket',
      notice_s: probe.notice_s,
      back_s: probe.back_s,
      interval_s: INTERVAL_MS / 1000,
      baseline: { what: "Baileys' keep-alive alone (probe off), same keep-alive interval", ...keepalive },
      ratio: round(keepalive.notice_s / probe.notice_s, 2),
      goal: `silent socket noticed within one health interval (${INTERVAL_MS / 1000} s)`,
      met: probe.how === 'active probe' && probe.notice_s <= INTERVAL_MS / 1000,
      machine: machine('none'),
    });
  } finally {
    await emu.close();
    WA_CERT_DETAILS.PUBLIC_KEY = rootKey;
  }
});
