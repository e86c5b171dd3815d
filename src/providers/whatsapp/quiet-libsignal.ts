// libsignal (under Baileys) prints whole Signal session records, private keys included, to the console: drop those.

/** Message prefixes of libsignal's console output that carry session records (key material). */
const SESSION_DUMPS = [
  'Closing session',
  'Opening session',
  'Removing old closed session',
  'Session already closed',
  'Session already open',
  'Closing open session in favor of incoming prekey bundle',
  'Migrating session to',
  'Decrypted message with closed session',
];

let installed = false;

/** True for a console call that is one of libsignal's session dumps. */
export function isSessionDump(args: unknown[]): boolean {
  const first = args[0];
  return typeof first === 'string' && SESSION_DUMPS.some((p) => first.startsWith(p));
}

/**
 * Filters libsignal's session dumps out of `console.info` and `console.warn` (process-wide, once). Everything else
 * passes through unchanged.
 */
export function quietLibsignal(): void {
  if (installed) return;
  installed = true;
  const con: Console = globalThis.console;
  for (const level of ['info', 'warn', 'log'] as const) {
    const original = con[level];
    con[level] = (...args: unknown[]) => {
      if (isSessionDump(args)) return;
      original.apply(con, args);
    };
  }
}
