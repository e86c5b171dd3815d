// A simulated WhatsApp contact: its own libsignal identity, prekeys and sessions, kept in memory.
import { randomInt } from 'node:crypto';
import { proto, unpadRandomMax16 } from 'baileys';
import * as libsignal from 'libsignal';
import * as curve from 'libsignal/src/curve.js';

type SessionRecordT = InstanceType<typeof libsignal.SessionRecord>;
interface SignalKeyPair {
  pubKey: Buffer;
  privKey: Buffer;
}

/** A Signal prekey bundle, as published by a device (keys with the 0x05 prefix). */
export interface PreKeyBundle {
  registrationId: number;
  identityKey: Buffer;
  signedPreKey: { keyId: number; publicKey: Buffer; signature: Buffer };
  preKey: { keyId: number; publicKey: Buffer };
}

const asKeyPair = (kp: { pubKey: Uint8Array; privKey: Uint8Array }): SignalKeyPair => ({
  pubKey: Buffer.from(kp.pubKey),
  privKey: Buffer.from(kp.privKey),
});

/** One simulated contact (phone + LID) with a working libsignal store. */
export class SignalPeer {
  /** Registration id of the contact's single device. */
  readonly registrationId = randomInt(1, 16380);
  /** Identity key pair (33-byte public key). */
  readonly identity: SignalKeyPair = asKeyPair(curve.generateKeyPair());
  /** Signed prekey. */
  readonly signedPreKey: { keyId: number; keyPair: SignalKeyPair; signature: Buffer };
  private readonly preKeys = new Map<number, SignalKeyPair>();
  private nextPreKeyId = 1;
  private readonly sessions = new Map<string, Uint8Array>();

  constructor(
    /** Phone number (digits only). */
    readonly phone: string,
    /** LID user part (digits only). */
    readonly lid: string,
  ) {
    const kp = asKeyPair(curve.generateKeyPair());
    this.signedPreKey = {
      keyId: 1,
      keyPair: kp,
      signature: Buffer.from(curve.calculateSignature(this.identity.privKey, kp.pubKey)),
    };
  }

  /** Returns a fresh one-time prekey bundle for the emulator to hand to a device. */
  takeBundle(): PreKeyBundle {
    const keyId = this.nextPreKeyId++;
    const kp = asKeyPair(curve.generateKeyPair());
    this.preKeys.set(keyId, kp);
    return {
      registrationId: this.registrationId,
      identityKey: this.identity.pubKey,
      signedPreKey: {
        keyId: this.signedPreKey.keyId,
        publicKey: this.signedPreKey.keyPair.pubKey,
        signature: this.signedPreKey.signature,
      },
      preKey: { keyId, publicKey: kp.pubKey },
    };
  }

  private storage(): libsignal.SignalStorage {
    return {
      loadSession: async (id: string) => {
        const s = this.sessions.get(id);
        return s ? libsignal.SessionRecord.deserialize(s) : undefined;
      },
      storeSession: async (id: string, session: SessionRecordT) => {
        this.sessions.set(id, session.serialize());
      },
      isTrustedIdentity: () => true,
      loadPreKey: async (id: number | string) => this.preKeys.get(Number(id)),
      removePreKey: (id: number) => {
        this.preKeys.delete(Number(id));
      },
      loadSignedPreKey: () => this.signedPreKey.keyPair,
      getOurRegistrationId: () => this.registrationId,
      getOurIdentity: () => this.identity,
    };
  }

  /** True when this contact has an open session with the given device address. */
  hasSession(address: string): boolean {
    const s = this.sessions.get(address);
    return !!s && libsignal.SessionRecord.deserialize(s).haveOpenSession();
  }

  /** Starts an outgoing session to a device from its published bundle. */
  async initSession(address: string, deviceId: number, bundle: PreKeyBundle): Promise<void> {
    const addr = new libsignal.ProtocolAddress(address, deviceId);
    await new libsignal.SessionBuilder(this.storage(), addr).initOutgoing(bundle);
  }

  /** Encrypts a WhatsApp `proto.Message` to a device; returns the enc type and ciphertext. */
  async encrypt(
    address: string,
    deviceId: number,
    message: proto.IMessage,
  ): Promise<{ type: 'pkmsg' | 'msg'; ciphertext: Buffer }> {
    const plain = proto.Message.encode(message).finish();
    const padLen = randomInt(1, 17);
    const padded = Buffer.concat([Buffer.from(plain), Buffer.alloc(padLen, padLen)]);
    const cipher = new libsignal.SessionCipher(
      this.storage(),
      new libsignal.ProtocolAddress(address, deviceId),
    );
    const { type, body } = await cipher.encrypt(padded);
    return { type: type === 3 ? 'pkmsg' : 'msg', ciphertext: Buffer.from(body, 'binary') };
  }

  /** Decrypts a message a device sent to this contact. */
  async decrypt(address: string, deviceId: number, type: string, ciphertext: Buffer): Promise<proto.Message> {
    const cipher = new libsignal.SessionCipher(
      this.storage(),
      new libsignal.ProtocolAddress(address, deviceId),
    );
    const plain =
      type === 'pkmsg'
        ? await cipher.decryptPreKeyWhisperMessage(ciphertext)
        : await cipher.decryptWhisperMessage(ciphertext);
    return proto.Message.decode(unpadRandomMax16(plain));
  }
}
