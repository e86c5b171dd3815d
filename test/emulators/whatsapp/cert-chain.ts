// Builds and verifies the emulator's own Noise certificate chain (root → intermediate → leaf).
import { randomBytes } from 'node:crypto';
import { proto } from 'baileys';
import * as curve from 'libsignal/src/curve.js';

/** A Curve25519 key pair with 32-byte raw keys (no 0x05 prefix). */
export interface RawKeyPair {
  /** 32-byte private key. */
  private: Buffer;
  /** 32-byte public key. */
  public: Buffer;
}

/** The emulator's certificate chain and the keys behind it. */
export interface CertChain {
  /** Root key pair: Baileys must trust `root.public` as `WA_CERT_DETAILS.PUBLIC_KEY`. */
  root: RawKeyPair;
  /** Intermediate key pair, signed by the root. */
  intermediate: RawKeyPair;
  /** Encoded `proto.CertChain` sent as the server-hello payload. */
  encoded: Buffer;
}

/** Generates a Curve25519 key pair (raw 32-byte keys). */
export function generateRawKeyPair(): RawKeyPair {
  const { pubKey, privKey } = curve.generateKeyPair();
  return { private: Buffer.from(privKey), public: Buffer.from(pubKey).subarray(1) };
}

/** XEdDSA-signs `message` with a raw 32-byte Curve25519 private key. */
export function signRaw(privateKey: Buffer, message: Uint8Array): Buffer {
  return Buffer.from(curve.calculateSignature(privateKey, message));
}

/**
 * Strict XEdDSA verification: returns false for a wrong signature (unlike Baileys' `Curve.verify`
 * in rc14, which only fails on malformed input).
 */
export function verifyStrict(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const pub = publicKey.length === 33 ? Buffer.from(publicKey) : Buffer.concat([Buffer.from([5]), publicKey]);
  try {
    return curve.verifySignature(pub, Buffer.from(message), Buffer.from(signature)) === true;
  } catch {
    return false;
  }
}

/** Creates a fresh root and intermediate, and a leaf certificate for the server's static key. */
export function createCertChain(
  serverStaticPublic: Buffer,
  root: RawKeyPair = generateRawKeyPair(),
): CertChain {
  const intermediate = generateRawKeyPair();
  const now = Math.floor(Date.now() / 1000);
  const interDetails = proto.CertChain.NoiseCertificate.Details.encode({
    serial: 1,
    issuerSerial: 0,
    key: intermediate.public,
    notBefore: now - 3600,
    notAfter: now + 10 * 365 * 86400,
  }).finish();
  const leafDetails = proto.CertChain.NoiseCertificate.Details.encode({
    serial: randomBytes(3).readUIntBE(0, 3),
    issuerSerial: 1,
    key: serverStaticPublic,
    notBefore: now - 3600,
    notAfter: now + 365 * 86400,
  }).finish();
  const encoded = Buffer.from(
    proto.CertChain.encode({
      intermediate: { details: interDetails, signature: signRaw(root.private, interDetails) },
      leaf: { details: leafDetails, signature: signRaw(intermediate.private, leafDetails) },
    }).finish(),
  );
  return { root, intermediate, encoded };
}
