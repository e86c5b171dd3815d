// Emulator identities: how a stanza names its sender (phone JID, LID with sender_pn, or LID only).

/** How a contact's message names the sender; see {@link senderAttrs}. */
export type SenderAddressing = 'pn' | 'lid' | 'lid-only';

/**
 * Stanza attributes naming the sender, as WhatsApp sends them:
 * - `pn`: `from="<phone>@s.whatsapp.net" sender_lid="<lid>@lid"` (phone-addressed; Baileys learns the LID),
 * - `lid`: `from="<lid>@lid" sender_pn="<phone>@s.whatsapp.net" addressing_mode="lid"` (LID-addressed, phone given),
 * - `lid-only`: `from="<lid>@lid" addressing_mode="lid"` (the phone is not told: a privacy-first first contact).
 */
export function senderAttrs(
  peer: { phone: string; lid: string },
  addressing: SenderAddressing,
): Record<string, string> {
  const pn = `${peer.phone}@s.whatsapp.net`;
  const lid = `${peer.lid}@lid`;
  if (addressing === 'pn') return { from: pn, sender_lid: lid };
  if (addressing === 'lid') return { from: lid, sender_pn: pn, addressing_mode: 'lid' };
  return { from: lid, addressing_mode: 'lid' };
}
