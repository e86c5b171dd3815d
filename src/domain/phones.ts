// The phone number a WhatsApp user JID carries, for views and event payloads (LIDs and groups carry none).

/** `+<digits>` for `<digits>[:device]@s.whatsapp.net` (or `@c.us`), else null (LIDs, groups, Telegram ids). */
export function phoneOfUserJid(jid: string | null | undefined): string | null {
  const m = jid ? /^(\d{5,20})(?::\d+)?@(?:s\.whatsapp\.net|c\.us)$/.exec(jid) : null;
  return m ? `+${m[1]}` : null;
}
