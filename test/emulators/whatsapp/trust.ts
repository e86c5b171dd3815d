// Points Baileys' certificate-chain trust root (WA_CERT_DETAILS.PUBLIC_KEY) at the emulator's root key.
import { WA_CERT_DETAILS } from 'baileys';

const ORIGINAL_ROOT = Buffer.from(WA_CERT_DETAILS.PUBLIC_KEY);

/** Env var carrying the emulator root key (base64) for {@link trustFromEnv} and `preload.ts`. */
export const ROOT_KEY_ENV = 'WA_EMULATOR_ROOT_KEY';

/**
 * Makes Baileys (this process, this module instance) accept the emulator's certificate chain by
 * replacing the mutable `WA_CERT_DETAILS.PUBLIC_KEY` export. Returns a function that restores it.
 */
export function trustEmulator(rootPublicKey: Uint8Array): () => void {
  if (rootPublicKey.length !== 32) throw new Error('emulator root key must be 32 bytes');
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(rootPublicKey);
  return restoreWhatsAppTrust;
}

/** Restores Baileys' original WhatsApp root key. */
export function restoreWhatsAppTrust(): void {
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(ORIGINAL_ROOT);
}

/** The root key Baileys shipped with (WhatsApp's real one). */
export function whatsAppRootKey(): Buffer {
  return Buffer.from(ORIGINAL_ROOT);
}

/** Applies {@link trustEmulator} from `WA_EMULATOR_ROOT_KEY` (base64) if set; returns whether it did. */
export function trustFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const b64 = env[ROOT_KEY_ENV];
  if (!b64) return false;
  trustEmulator(Buffer.from(b64, 'base64'));
  return true;
}
