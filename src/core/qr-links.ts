// Short-lived signed QR image links: `…/qr.png?exp=&sig=` usable in an <img> without a header (HMAC-SHA256 over the
// instance, its current owner and the expiry, keyed by a server secret kept in the database's meta table).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Instance } from '../domain/model.js';
import type { MetaRepo } from '../ports/store.js';

/** The longest a link may live (seconds): a QR rotates every ~20 s anyway, and a leaked link dies quickly. */
export const QR_LINK_MAX_TTL_S = 300;

/** Why a presented link was refused. */
export type QrLinkRefusal = 'bad_signature' | 'expired' | 'too_far_ahead';

/** Signs and checks QR image links; the secret is created once per database and shared by every replica. */
export class QrLinks {
  private secret: Promise<string> | null = null;

  /** @param ttlS lifetime of a new link in seconds (capped at {@link QR_LINK_MAX_TTL_S}). */
  constructor(
    private readonly meta: Pick<MetaRepo, 'setIfAbsent'>,
    private readonly ttlS: number,
  ) {}

  private key(): Promise<string> {
    this.secret ??= this.meta
      .setIfAbsent('qr_link_secret', randomBytes(32).toString('base64url'))
      .catch((err: unknown) => {
        this.secret = null;
        throw err;
      });
    return this.secret;
  }

  /**
   * The signature of a link for `inst` expiring at `exp` (Unix seconds). It covers the instance's company and pool
   * assignment, so a link stops working when a pooled instance changes hands.
   */
  async sign(inst: Pick<Instance, 'id' | 'company_id' | 'assigned_to'>, exp: number): Promise<string> {
    return createHmac('sha256', await this.key())
      .update(`qr-link|${inst.id.toLowerCase()}|${inst.company_id}|${inst.assigned_to ?? ''}|${exp}`)
      .digest('base64url');
  }

  /** A new link's query (`exp`, `sig`) and its expiry, `nowMs` being the current time. */
  async issue(
    inst: Pick<Instance, 'id' | 'company_id' | 'assigned_to'>,
    nowMs: number = Date.now(),
  ): Promise<{ exp: number; sig: string }> {
    const exp = Math.floor(nowMs / 1000) + Math.min(this.ttlS, QR_LINK_MAX_TTL_S);
    return { exp, sig: await this.sign(inst, exp) };
  }

  /** null when the link is valid for `inst` now, else why not (constant-time signature comparison). */
  async check(
    inst: Pick<Instance, 'id' | 'company_id' | 'assigned_to'>,
    exp: number,
    sig: string,
    nowMs: number = Date.now(),
  ): Promise<QrLinkRefusal | null> {
    const expected = Buffer.from(await this.sign(inst, exp));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad_signature';
    const now = Math.floor(nowMs / 1000);
    if (exp <= now) return 'expired';
    if (exp - now > QR_LINK_MAX_TTL_S) return 'too_far_ahead';
    return null;
  }
}
