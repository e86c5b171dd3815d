// Test helpers: a real Baileys socket with in-memory auth state, pointed at a WhatsAppEmulator.
import makeWASocket, {
  type AuthenticationState,
  type ConnectionState,
  initAuthCreds,
  type SignalDataSet,
  type SignalDataTypeMap,
  type SignalKeyStore,
  type WASocket,
} from 'baileys';
import { pino } from 'pino';

/** Fixed WhatsApp Web version for tests (never fetch the latest: no internet). */
export const TEST_WA_VERSION: [number, number, number] = [2, 3000, 1027934701];

/** In-memory Baileys auth state (creds + Signal keys); survives socket reconnects. */
export function memoryAuthState(): AuthenticationState {
  const data = new Map<string, unknown>();
  const keys: SignalKeyStore = {
    get<T extends keyof SignalDataTypeMap>(type: T, ids: string[]) {
      const out: { [id: string]: SignalDataTypeMap[T] } = {};
      for (const id of ids) {
        const v = data.get(`${type}:${id}`);
        if (v !== undefined) out[id] = v as SignalDataTypeMap[T];
      }
      return out;
    },
    set(set: SignalDataSet) {
      for (const [type, entries] of Object.entries(set)) {
        for (const [id, value] of Object.entries(entries ?? {})) {
          if (value == null) data.delete(`${type}:${id}`);
          else data.set(`${type}:${id}`, value);
        }
      }
    },
  };
  return { creds: initAuthCreds(), keys };
}

/** A Baileys socket plus everything it emitted, for assertions. */
export interface TestClient {
  sock: WASocket;
  updates: Partial<ConnectionState>[];
  /** Resolves with the first `connection.update` matching `pred` (already seen ones count). */
  waitForUpdate(
    pred: (u: Partial<ConnectionState>) => boolean,
    timeoutMs?: number,
  ): Promise<Partial<ConnectionState>>;
  /** Resolves with the close status code (`lastDisconnect.error.output.statusCode`). */
  waitForClose(timeoutMs?: number): Promise<number | undefined>;
  end(): void;
}

/** Connects the real Baileys client to `url` with the given auth state. */
export function connectClient(
  url: string,
  auth: AuthenticationState,
  extra: { keepAliveIntervalMs?: number; syncHistory?: boolean } = {},
): TestClient {
  const sock = makeWASocket({
    waWebSocketUrl: url,
    auth,
    version: TEST_WA_VERSION,
    logger: pino({ level: process.env.WA_EMULATOR_LOG_LEVEL ?? 'silent' }),
    shouldSyncHistoryMessage: () => extra.syncHistory ?? false,
    markOnlineOnConnect: false,
    connectTimeoutMs: 10_000,
    keepAliveIntervalMs: extra.keepAliveIntervalMs ?? 30_000,
    retryRequestDelayMs: 50,
  });
  const updates: Partial<ConnectionState>[] = [];
  const waiters = new Set<() => void>();
  sock.ev.on('connection.update', (u) => {
    updates.push(u);
    for (const w of waiters) w();
  });
  const waitForUpdate: TestClient['waitForUpdate'] = (pred, timeoutMs = 10_000) =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = updates.find(pred);
        if (!hit) return false;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(hit);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(
            `timed out waiting for connection.update; saw ${JSON.stringify(updates.map((u) => ({ ...u, lastDisconnect: undefined, qr: u.qr ? 'qr' : undefined })))}`,
          ),
        );
      }, timeoutMs);
      if (!check()) waiters.add(check);
    });
  return {
    sock,
    updates,
    waitForUpdate,
    async waitForClose(timeoutMs) {
      const u = await waitForUpdate((x) => x.connection === 'close', timeoutMs);
      return (u.lastDisconnect?.error as { output?: { statusCode?: number } } | undefined)?.output
        ?.statusCode;
    },
    end() {
      sock.end(undefined);
    },
  };
}

/** Polls `fn` until it returns a truthy value. */
export async function eventually<T>(
  fn: () => T | undefined | false | null | Promise<T | undefined | false | null>,
  timeoutMs = 5_000,
): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
