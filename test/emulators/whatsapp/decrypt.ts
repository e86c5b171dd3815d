// Decrypt failures for the emulator: ciphertext a device cannot decrypt, as after a lost or corrupted Signal message.
import { randomBytes } from 'node:crypto';

/** What a contact does when the device asks for a retry: re-send properly, or send broken ciphertext again. */
export type UndecryptableMode = 'recover' | 'never';

/**
 * A Signal `msg` (WhisperMessage) that no session can decrypt: the right version byte, then noise. libsignal rejects
 * it without touching any session, and the device reports a decrypt failure (and asks for a retry), as for a message
 * whose keys were lost. Sent instead of real ciphertext, so the sender's chain does not move either.
 */
export function undecryptableCiphertext(): { type: 'msg'; ciphertext: Buffer } {
  return { type: 'msg', ciphertext: Buffer.concat([Buffer.from([0x33]), randomBytes(48)]) };
}
