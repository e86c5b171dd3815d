// libsignal's session dumps (private keys) never reach the console; other output does.
import { expect, it } from 'vitest';
import { isSessionDump, quietLibsignal } from './quiet-libsignal.js';

it('drops libsignal session dumps and passes everything else through', () => {
  const con: Console = globalThis.console;
  const seen: unknown[][] = [];
  const before = { info: con.info, warn: con.warn };
  con.info = (...args: unknown[]) => void seen.push(args);
  con.warn = (...args: unknown[]) => void seen.push(args);
  try {
    quietLibsignal();
    con.info('Closing session:', { privKey: Buffer.alloc(32, 1) });
    con.warn('Closing open session in favor of incoming prekey bundle');
    con.info('Opening session:', { rootKey: Buffer.alloc(32, 2) });
    con.warn('an unrelated warning');
    expect(seen).toEqual([['an unrelated warning']]);
    expect(isSessionDump(['Removing old closed session:', {}])).toBe(true);
    expect(isSessionDump([{ msg: 'Closing session' }])).toBe(false);
  } finally {
    con.info = before.info;
    con.warn = before.warn;
  }
});
