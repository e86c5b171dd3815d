// Server side of WhatsApp's Noise XX handshake plus the length-prefixed, AES-GCM transport framing.
import { createCipheriv, createDecipheriv, createHash, hkdfSync } from 'node:crypto';
import { NOISE_MODE, proto } from 'baileys';
import * as curve from 'libsignal/src/curve.js';
import { generateRawKeyPair, type RawKeyPair } from './cert-chain.js';

const sha256 = (data: Uint8Array): Buffer => createHash('sha256').update(data).digest();

function dh(privateKey: Buffer, publicKey: Uint8Array): Buffer {
  const pub = publicKey.length === 33 ? Buffer.from(publicKey) : Buffer.concat([Buffer.from([5]), publicKey]);
  return Buffer.from(curve.calculateAgreement(pub, privateKey));
}

function iv(counter: number): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt32BE(counter >>> 0, 8);
  return out;
}

function gcmEncrypt(plain: Uint8Array, key: Buffer, nonce: Buffer, aad: Uint8Array): Buffer {
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(aad);
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

function gcmDecrypt(data: Uint8Array, key: Buffer, nonce: Buffer, aad: Uint8Array): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, nonce);
  d.setAAD(aad);
  d.setAuthTag(data.subarray(data.length - 16));
  return Buffer.concat([d.update(data.subarray(0, data.length - 16)), d.final()]);
}

/** Result of a completed handshake. */
export interface HandshakeResult {
  /** The client's static (noise) public key, 32 bytes. */
  clientStatic: Buffer;
  /** The decrypted ClientPayload. */
  payload: proto.ClientPayload;
}

/**
 * One connection's Noise responder. Feed raw websocket data to {@link NoiseResponder.push}; it
 * yields complete frames (handshake frames in clear, transport frames decrypted).
 */
export class NoiseResponder {
  private hash: Buffer;
  private salt: Buffer;
  private key: Buffer;
  private counter = 0;
  private inBytes: Buffer = Buffer.alloc(0);
  private sawIntro = false;
  private ephemeral: RawKeyPair = generateRawKeyPair();
  private sendKey: Buffer | null = null;
  private recvKey: Buffer | null = null;
  private sendCounter = 0;
  private recvCounter = 0;

  /**
   * @param staticKey the server's static Noise key pair (the leaf certificate's key)
   * @param certChain encoded `proto.CertChain` sent in the server hello
   * @param header the 4-byte `WA` intro header the client prefixes to its first frame
   */
  constructor(
    private readonly staticKey: RawKeyPair,
    private readonly certChain: Uint8Array,
    private readonly header: Buffer,
  ) {
    const mode = Buffer.from(NOISE_MODE);
    this.hash = mode.length === 32 ? mode : sha256(mode);
    this.salt = this.hash;
    this.key = this.hash;
  }

  /** True once the handshake finished and transport keys are in place. */
  get established(): boolean {
    return this.sendKey !== null;
  }

  private authenticate(data: Uint8Array): void {
    if (!this.sendKey) this.hash = sha256(Buffer.concat([this.hash, data]));
  }

  private mixIntoKey(ikm: Uint8Array): void {
    const out = Buffer.from(hkdfSync('sha256', ikm, this.salt, Buffer.alloc(0), 64));
    this.salt = out.subarray(0, 32);
    this.key = out.subarray(32);
    this.counter = 0;
  }

  private encryptHs(plain: Uint8Array): Buffer {
    const out = gcmEncrypt(plain, this.key, iv(this.counter++), this.hash);
    this.authenticate(out);
    return out;
  }

  private decryptHs(cipher: Uint8Array): Buffer {
    const out = gcmDecrypt(cipher, this.key, iv(this.counter++), this.hash);
    this.authenticate(cipher);
    return out;
  }

  /** Splits raw websocket bytes into frames (strips the intro header on the first message). */
  push(data: Buffer): Buffer[] {
    this.inBytes = this.inBytes.length ? Buffer.concat([this.inBytes, data]) : Buffer.from(data);
    if (!this.sawIntro) {
      if (this.inBytes.length < this.header.length) return [];
      if (this.inBytes.subarray(0, 2).toString('latin1') === 'ED') {
        const routingLen = (this.inBytes[4]! << 16) | this.inBytes.readUInt16BE(5);
        this.inBytes = this.inBytes.subarray(7 + routingLen);
      }
      this.inBytes = this.inBytes.subarray(this.header.length);
      this.sawIntro = true;
    }
    const frames: Buffer[] = [];
    while (this.inBytes.length >= 3) {
      const size = (this.inBytes[0]! << 16) | (this.inBytes[1]! << 8) | this.inBytes[2]!;
      if (this.inBytes.length < size + 3) break;
      let frame = this.inBytes.subarray(3, size + 3);
      this.inBytes = this.inBytes.subarray(size + 3);
      if (this.recvKey) frame = gcmDecrypt(frame, this.recvKey, iv(this.recvCounter++), Buffer.alloc(0));
      frames.push(frame);
    }
    return frames;
  }

  /** Answers the client hello; returns the framed server hello to send. */
  onClientHello(frame: Buffer): Buffer {
    const msg = proto.HandshakeMessage.decode(frame);
    const clientEphemeral = msg.clientHello?.ephemeral;
    if (clientEphemeral?.length !== 32) throw new Error('bad client hello');
    this.authenticate(this.header);
    this.authenticate(clientEphemeral);
    this.clientEphemeral = Buffer.from(clientEphemeral);
    this.authenticate(this.ephemeral.public);
    this.mixIntoKey(dh(this.ephemeral.private, clientEphemeral));
    const staticEnc = this.encryptHs(this.staticKey.public);
    this.mixIntoKey(dh(this.staticKey.private, clientEphemeral));
    const payloadEnc = this.encryptHs(this.certChain);
    const hello = proto.HandshakeMessage.encode({
      serverHello: { ephemeral: this.ephemeral.public, static: staticEnc, payload: payloadEnc },
    }).finish();
    return this.frame(Buffer.from(hello));
  }

  private clientEphemeral: Buffer | null = null;

  /** Processes the client finish and switches to transport mode. */
  onClientFinish(frame: Buffer): HandshakeResult {
    const msg = proto.HandshakeMessage.decode(frame);
    const fin = msg.clientFinish;
    if (!fin?.static || !fin.payload || !this.clientEphemeral) throw new Error('bad client finish');
    const clientStatic = this.decryptHs(fin.static);
    this.mixIntoKey(dh(this.ephemeral.private, clientStatic));
    const payload = proto.ClientPayload.decode(this.decryptHs(fin.payload));
    const keys = Buffer.from(hkdfSync('sha256', Buffer.alloc(0), this.salt, Buffer.alloc(0), 64));
    this.recvKey = keys.subarray(0, 32);
    this.sendKey = keys.subarray(32);
    return { clientStatic, payload };
  }

  /** Frames (and, after the handshake, encrypts) bytes for sending. */
  frame(data: Buffer): Buffer {
    const body = this.sendKey
      ? gcmEncrypt(data, this.sendKey, iv(this.sendCounter++), Buffer.alloc(0))
      : data;
    const out = Buffer.alloc(3 + body.length);
    out[0] = (body.length >>> 16) & 0xff;
    out[1] = (body.length >>> 8) & 0xff;
    out[2] = body.length & 0xff;
    body.copy(out, 3);
    return out;
  }
}
