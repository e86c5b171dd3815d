// Users of a company: scrypt password hashes, sign-in rate limited per email and per address, JWT bearer tokens.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { notFound, SbError } from '../domain/errors.js';
import type { Principal } from '../domain/model.js';
import type { Store } from '../ports/store.js';
import type { User } from '../ports/users.js';
import { assertCanIssue, assertCompany, requireCompanyLevel, requireScope, USER_SCOPES } from './access.js';
import { type RateLimiter, rateLimited } from './rate-limit.js';

export type { User };

export interface UserServiceDeps {
  store: Store;
  /** HS256 secret; unset = one generated at first use and kept in gateway_meta (shared by replicas). */
  jwtSecret: string | undefined;
  /** Token lifetime in seconds. */
  ttlSeconds: number;
  /** Sign-in attempts per email and per client address. */
  loginLimits: { perEmail: RateLimiter; perAddress: RateLimiter };
}

/** scrypt cost: N = 2^15, r = 8, p = 1 (32 MiB, ~0.1 s here); stored in the hash so it can be raised later. */
const KDF = { N: 32_768, r: 8, p: 1, keylen: 32 } as const;
const ISSUER = 'switchboard';
const AUDIENCE = 'switchboard:user';
const USER_CACHE_MS = 1000;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function kdf(password: string, salt: Buffer, N: number, r: number, p: number, len: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, len, { N, r, p, maxmem: 256 * N * r + 1_048_576 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** `scrypt$N$r$p$salt$hash` (base64url) for a password, with a fresh random salt. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await kdf(password, salt, KDF.N, KDF.r, KDF.p, KDF.keylen);
  return ['scrypt', KDF.N, KDF.r, KDF.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Constant-time check of a password against a stored hash; false for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [alg, n, r, p, salt, hash] = stored.split('$');
  if (alg !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await kdf(
    password,
    Buffer.from(salt, 'base64url'),
    Number(n),
    Number(r),
    Number(p),
    expected.length,
  );
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** True when the principal came from a user's sign-in token (not an API key). */
export const isUserPrincipal = (p: Principal): boolean => p.kind === 'company' && p.keyId.startsWith('user:');

export class UserService {
  private secret: Promise<Uint8Array> | null = null;
  /** Compared against when the email is unknown, so both failures cost the same time. */
  private readonly dummyHash = hashPassword(randomBytes(16).toString('hex'));
  /** Token → user lookups cached for at most 1 s (like API keys), so a deleted user loses access within 1 s. */
  private readonly cache = new Map<string, { at: number; user: User | null }>();

  constructor(private readonly deps: UserServiceDeps) {}

  private key(): Promise<Uint8Array> {
    this.secret ??= (async () => {
      const s =
        this.deps.jwtSecret ??
        (await this.deps.store.meta.setIfAbsent('jwt_secret', randomBytes(48).toString('base64url')));
      return new TextEncoder().encode(s);
    })();
    return this.secret;
  }

  /**
   * Creates a user of a company. A user holds the user role (read, send, control on every instance of its
   * company), so the caller needs the admin scope and at least those rights: the admin key or a company key
   * unrestricted to instances with admin, read, send and control. Users cannot create users.
   */
  async create(
    p: Principal,
    companyId: string,
    input: { email: string; password: string; name?: string | null },
  ) {
    requireCompanyLevel(p);
    if (isUserPrincipal(p)) throw new SbError('SB_ERR_FORBIDDEN', 'users are created with an API key');
    requireScope(p, 'admin');
    assertCompany(p, companyId);
    assertCanIssue(p, { companyId, scopes: USER_SCOPES, instances: null });
    const { store } = this.deps;
    if (!(await store.companies.get(companyId))) throw notFound('company', companyId);
    const hash = await hashPassword(input.password);
    const user = await store.users.create({
      company_id: companyId,
      email: input.email.toLowerCase(),
      name: input.name ?? null,
      password_hash: hash,
    });
    if (!user) throw new SbError('SB_ERR_USER_EXISTS', 'a user with this email already exists');
    return user;
  }

  /** A company's users; needs the admin scope. */
  async list(p: Principal, companyId: string): Promise<User[]> {
    requireCompanyLevel(p);
    requireScope(p, 'admin');
    assertCompany(p, companyId);
    return this.deps.store.users.listByCompany(companyId);
  }

  async get(id: string): Promise<User | null> {
    return this.deps.store.users.get(id);
  }

  /**
   * Signs a user in. Attempts are limited per email and per client address (429); an unknown email and a wrong
   * password give the same 401 after the same work.
   */
  async login(email: string, password: string, address: string): Promise<{ token: string; user: User }> {
    const mail = email.trim().toLowerCase();
    const { perEmail, perAddress } = this.deps.loginLimits;
    const byAddress = await perAddress.consume(`addr:${address}`);
    if (!byAddress.allowed) throw rateLimited(byAddress, 'too many sign-in attempts from this address');
    const byEmail = await perEmail.consume(`email:${mail}`);
    if (!byEmail.allowed) throw rateLimited(byEmail, 'too many sign-in attempts for this account');
    const { users } = this.deps.store;
    const found = await users.findForLogin(mail);
    const ok = await verifyPassword(password, found?.password_hash ?? (await this.dummyHash));
    if (!found || !ok) throw new SbError('SB_ERR_UNAUTHORIZED', 'invalid email or password');
    await perEmail.reset?.(`email:${mail}`);
    const { password_hash: _hash, ...before } = found;
    const user = (await users.recordLogin(found.id)) ?? before;
    return { token: await this.issueToken(user), user };
  }

  /** A signed HS256 token for the user (`sub` = user id, `cid` = company id). */
  async issueToken(user: Pick<User, 'id' | 'company_id'>): Promise<string> {
    return new SignJWT({ cid: user.company_id })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(user.id)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.deps.ttlSeconds}s`)
      .sign(await this.key());
  }

  /** The user and principal for a bearer token, or null when it is not a valid, current user token. */
  async resolveToken(token: string): Promise<{ user: User; principal: Principal } | null> {
    if (token.length > 2048 || !JWT_SHAPE.test(token)) return null;
    let sub: string | undefined;
    let cid: unknown;
    try {
      const { payload } = await jwtVerify(token, await this.key(), {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
      });
      sub = payload.sub;
      cid = payload.cid;
    } catch {
      return null;
    }
    if (!sub || !/^[0-9a-f-]{36}$/i.test(sub)) return null;
    const hit = this.cache.get(sub);
    let user: User | null;
    if (hit && Date.now() - hit.at < USER_CACHE_MS) user = hit.user;
    else {
      user = await this.get(sub);
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(sub, { at: Date.now(), user });
    }
    if (!user || user.company_id !== cid) return null;
    return {
      user,
      principal: {
        kind: 'company',
        companyId: user.company_id,
        keyId: `user:${user.id}`,
        scopes: [...USER_SCOPES],
      },
    };
  }
}
