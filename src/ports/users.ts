// The users port: a company's users (email, name, scrypt password hash) and their last sign-in.

/** A user as the API shows it (never the password hash). */
export interface User {
  id: string;
  company_id: string;
  email: string;
  name: string | null;
  created_at: string;
  last_login_at: string | null;
}

/** A user to create; `password_hash` is the scrypt hash (core/users.ts). */
export interface NewUser {
  company_id: string;
  email: string;
  name: string | null;
  password_hash: string;
}

/** Users of every company; emails are unique case-insensitively across the deployment. */
export interface UserRepo {
  /** Inserts a user (email stored lower-cased); null when a user with this email already exists. */
  create(u: NewUser): Promise<User | null>;
  /** A company's users, oldest first (ties by id). */
  listByCompany(companyId: string): Promise<User[]>;
  get(id: string): Promise<User | null>;
  /** The user with this email (compared lower-cased) and its password hash, for a sign-in. */
  findForLogin(email: string): Promise<(User & { password_hash: string }) | null>;
  /** Stamps a successful sign-in (last_login_at = now); the updated user, or null when it no longer exists. */
  recordLogin(id: string): Promise<User | null>;
}
