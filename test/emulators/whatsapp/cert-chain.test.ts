// Proves the emulator's certificate chain is really signed by its own root (strict XEdDSA checks).
import { proto } from 'baileys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertChain, generateRawKeyPair, verifyStrict } from './cert-chain.js';
import { WhatsAppEmulator } from './emulator.js';
import { whatsAppRootKey } from './trust.js';

describe('emulator certificate chain', () => {
  let emu: WhatsAppEmulator;
  beforeAll(async () => {
    emu = await WhatsAppEmulator.start();
  });
  afterAll(async () => {
    await emu.close();
  });

  it('is root → intermediate → leaf, verifiable only with the emulator root', () => {
    const chain = proto.CertChain.decode(emu.certChain);
    const inter = chain.intermediate!;
    const leaf = chain.leaf!;
    const interDetails = proto.CertChain.NoiseCertificate.Details.decode(inter.details!);
    const leafDetails = proto.CertChain.NoiseCertificate.Details.decode(leaf.details!);
    expect(emu.rootPublicKey).toHaveLength(32);
    expect(interDetails.issuerSerial).toBe(0);
    expect(leafDetails.issuerSerial).toBe(interDetails.serial);
    expect(Buffer.from(leafDetails.key!).equals(emu.staticPublicKey)).toBe(true);
    // intermediate signed by our root, not by WhatsApp's real root (WA_CERT_DETAILS default)
    expect(verifyStrict(emu.rootPublicKey, inter.details!, inter.signature!)).toBe(true);
    expect(verifyStrict(whatsAppRootKey(), inter.details!, inter.signature!)).toBe(false);
    // leaf signed by the intermediate
    expect(verifyStrict(interDetails.key!, leaf.details!, leaf.signature!)).toBe(true);
    expect(verifyStrict(emu.rootPublicKey, leaf.details!, leaf.signature!)).toBe(false);
  });

  it('strict verify rejects a tampered signature or message', () => {
    const root = generateRawKeyPair();
    const chain = proto.CertChain.decode(createCertChain(generateRawKeyPair().public, root).encoded);
    const details = Buffer.from(chain.intermediate!.details!);
    const sig = Buffer.from(chain.intermediate!.signature!);
    expect(verifyStrict(root.public, details, sig)).toBe(true);
    const badSig = Buffer.from(sig);
    badSig[10]! ^= 1;
    expect(verifyStrict(root.public, details, badSig)).toBe(false);
    const badMsg = Buffer.from(details);
    badMsg[0]! ^= 1;
    expect(verifyStrict(root.public, badMsg, sig)).toBe(false);
  });
});
