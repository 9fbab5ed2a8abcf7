// Accounts, sign-in, sessions and refresh tokens.
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Config } from '../../config.js';
import type { Db } from '../../db/kysely.js';
import { withoutTenant, withShop, withUser, type Tx } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import { keyedHash, tokenHash } from '../../lib/keyed-hash.js';
import { checkPassword } from '../../lib/password-policy.js';
import { dummyVerify, hashPassword, needsRehash, verifyPassword, type PasswordHashParams } from '../../lib/password-hash.js';
import { auditFields, recordAuditEvent, type ClientInfo } from '../audit/service.js';

export type { ClientInfo };
import type { MemberRole } from '../../db/database.js';

export interface IssuedSession {
  userId: string;
  shopId: string;
  role: MemberRole;
  sessionId: string;
  /** The raw refresh token: goes to the client once, only its hash is stored. */
  refreshToken: string;
}

function hashParams(config: Config): PasswordHashParams {
  return { memoryCost: config.argon2MemoryKib, timeCost: config.argon2TimeCost, parallelism: config.argon2Parallelism };
}

function fingerprint(config: Config, client: ClientInfo) {
  return {
    ipHash: keyedHash(config.ipHashSecret, client.ip),
    userAgentHash: client.userAgent ? keyedHash(config.ipHashSecret, `ua:${client.userAgent}`) : null,
  };
}

const auditBase = (config: Config, client: ClientInfo) => auditFields(config.ipHashSecret, client);

export const normalizeEmail = (email: string) => email.trim().toLowerCase();

/** A new session (refresh-token family) for the user, acting in shopId. Runs as the user. */
export async function createSession(tx: Tx, config: Config, userId: string, shopId: string, client: ClientInfo): Promise<{ sessionId: string; refreshToken: string }> {
  const sessionId = randomUUID();
  const { ipHash, userAgentHash } = fingerprint(config, client);
  const expiresAt = new Date(Date.now() + config.refreshTokenTtlSeconds * 1000);
  await tx
    .insertInto('app.sessions')
    .values({ id: sessionId, user_id: userId, active_shop_id: shopId, expires_at: expiresAt, ip_hash: ipHash, user_agent_hash: userAgentHash })
    .execute();
  // At most N live sessions: the oldest beyond the limit are revoked.
  await sql`
    update app.sessions set revoked_at = now(), revoked_reason = 'session_limit'
     where id in (
       select id from app.sessions
        where user_id = ${userId} and revoked_at is null and expires_at > now()
        order by created_at desc, id desc
        offset ${config.maxSessionsPerUser})`.execute(tx);
  const refreshToken = await issueRefreshToken(tx, userId, sessionId, expiresAt);
  return { sessionId, refreshToken };
}

async function issueRefreshToken(tx: Tx, userId: string, sessionId: string, expiresAt: Date): Promise<string> {
  const refreshToken = randomBytes(32).toString('base64url'); // 256 random bits
  await tx
    .insertInto('app.refresh_tokens')
    .values({ session_id: sessionId, user_id: userId, token_hash: tokenHash(refreshToken), expires_at: expiresAt })
    .execute();
  return refreshToken;
}

export async function signup(
  db: Db,
  config: Config,
  input: { email: string; password: string; shopName: string },
  client: ClientInfo,
): Promise<IssuedSession & { email: string; shopName: string }> {
  const email = normalizeEmail(input.email);
  const policy = checkPassword(input.password, { email });
  if (!policy.ok) {
    throw new AppError(400, 'WEAK_PASSWORD', 'The password does not meet the password policy', {
      field: 'body.password',
      reasons: policy.reasons,
    });
  }
  const passwordHash = await hashPassword(input.password, hashParams(config));
  const userId = randomUUID();
  const shopId = randomUUID();
  try {
    // One transaction: user, shop, owner membership, settings, session, audit.
    return await withShop(
      db,
      shopId,
      async (tx) => {
        await tx.insertInto('app.users').values({ id: userId, email, password_hash: passwordHash, password_changed_at: new Date() }).execute();
        await tx.insertInto('app.shops').values({ id: shopId, name: input.shopName }).execute();
        await tx.insertInto('app.memberships').values({ shop_id: shopId, user_id: userId, role: 'owner' }).execute();
        await tx.insertInto('app.shop_settings').values({ shop_id: shopId }).execute();
        const session = await createSession(tx, config, userId, shopId, client);
        await recordAuditEvent(tx, { shopId, userId, action: 'auth.signup', resourceType: 'user', resourceId: userId, result: 'success', ...auditBase(config, client) });
        return { userId, shopId, role: 'owner' as const, ...session, email, shopName: input.shopName };
      },
      userId,
    );
  } catch (error) {
    if ((error as { code?: string }).code === '23505') {
      // Same answer whichever unique key it was; says nothing about other accounts' shops.
      throw new AppError(409, 'ACCOUNT_EXISTS', 'An account with this e-mail address already exists');
    }
    throw error;
  }
}

export type LoginOutcome =
  | { ok: true; session: IssuedSession; email: string; shopName: string }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'locked'; retryAfterSeconds: number };

/**
 * Unknown e-mail and wrong password take the same path length (a password hash is always
 * verified) and get the same answer. Lockout counts per account, not per IP.
 */
export async function login(db: Db, config: Config, input: { email: string; password: string }, client: ClientInfo): Promise<LoginOutcome> {
  const email = normalizeEmail(input.email);
  const { rows } = await sql<{ id: string; password_hash: string | null; locked_until: Date | null }>`
    select id, password_hash, locked_until from app_private.user_for_login(${email})`.execute(db);
  const account = rows[0];
  const params = hashParams(config);
  if (!account || !account.password_hash) {
    await dummyVerify(params);
    await withoutTenant(db, (tx) =>
      recordAuditEvent(tx, { shopId: null, action: 'auth.login', result: 'failure', metadata: { reason: 'unknown_account' }, ...auditBase(config, client) }),
    );
    return { ok: false, reason: 'invalid' };
  }
  const storedHash = account.password_hash;
  const now = Date.now();
  if (account.locked_until && account.locked_until.getTime() > now) {
    // Verify anyway: a locked account answers in the same time as any other.
    await dummyVerify(params);
    return { ok: false, reason: 'locked', retryAfterSeconds: Math.ceil((account.locked_until.getTime() - now) / 1000) };
  }
  const valid = await verifyPassword(storedHash, input.password);
  const outcome = await withUser(db, account.id, async (tx) => {
    const shops = await tx
      .selectFrom('app.memberships')
      .select(['shop_id', 'role'])
      .where('user_id', '=', account.id)
      .orderBy('created_at')
      .execute();
    const firstShop = shops[0]?.shop_id ?? null;
    if (!valid) {
      const { rows: counted } = await sql<{ failed_login_count: number; locked_until: Date | null }>`
        update app.users
           set failed_login_count = failed_login_count + 1,
               locked_until = case when failed_login_count + 1 >= ${config.lockoutMaxAttempts}
                                   then now() + make_interval(mins => ${config.lockoutMinutes}) else locked_until end
         where id = ${account.id}
         returning failed_login_count, locked_until`.execute(tx);
      const lockedNow = counted[0]?.locked_until && counted[0].failed_login_count === config.lockoutMaxAttempts;
      await recordAuditEvent(tx, { shopId: null, userId: account.id, action: 'auth.login', result: 'failure', metadata: { reason: 'bad_password' }, ...auditBase(config, client) });
      if (lockedNow) {
        await recordAuditEvent(tx, { shopId: null, userId: account.id, action: 'auth.lockout', result: 'denied', metadata: { minutes: config.lockoutMinutes }, ...auditBase(config, client) });
        await tx.insertInto('app.notification_outbox').values({ user_id: account.id, kind: 'account.locked', payload: { minutes: config.lockoutMinutes } }).execute();
        return { ok: false, reason: 'locked', retryAfterSeconds: config.lockoutMinutes * 60 } as const;
      }
      return { ok: false, reason: 'invalid' } as const;
    }
    if (!firstShop) return { ok: false, reason: 'invalid' } as const;
    // A hash made with older parameters is upgraded now, while the password is at hand.
    const rehash = needsRehash(storedHash, params) ? await hashPassword(input.password, params) : undefined;
    await tx
      .updateTable('app.users')
      .set({ failed_login_count: 0, locked_until: null, ...(rehash ? { password_hash: rehash } : {}) })
      .where('id', '=', account.id)
      .execute();
    const session = await createSession(tx, config, account.id, firstShop, client);
    await recordAuditEvent(tx, { shopId: null, userId: account.id, action: 'auth.login', result: 'success', resourceType: 'session', resourceId: session.sessionId, ...auditBase(config, client) });
    return { ok: true, session: { userId: account.id, shopId: firstShop, role: shops[0]!.role, ...session } } as const;
  });
  if (!outcome.ok) return outcome;
  // Read after the user transaction has released its connection: taking a second pooled
  // connection while holding one can deadlock a busy pool.
  const shopId = outcome.session.shopId;
  const shopRow = await withShop(db, shopId, (tx) => tx.selectFrom('app.shops').select('name').where('id', '=', shopId).executeTakeFirstOrThrow());
  return { ...outcome, email, shopName: shopRow.name };
}

export type RefreshOutcome = { ok: true; session: IssuedSession } | { ok: false; reason: 'invalid' | 'reused' };

/**
 * Rotates a refresh token. Presenting a token that was already rotated revokes its whole
 * family (the session): whoever holds the newer token loses it too, and the event is audited.
 * Of two concurrent refreshes with one token exactly one wins (UPDATE ... WHERE rotated_at
 * IS NULL); a loser within a second of the rotation is refused without revoking the family.
 */
export async function refresh(db: Db, config: Config, refreshToken: string, client: ClientInfo): Promise<RefreshOutcome> {
  const hash = tokenHash(refreshToken);
  const { rows } = await sql<{ user_id: string; session_id: string }>`
    select user_id, session_id from app_private.refresh_token_owner(${hash})`.execute(db);
  const owner = rows[0];
  if (!owner) return { ok: false, reason: 'invalid' };
  return withUser(db, owner.user_id, async (tx) => {
    const session = await tx
      .selectFrom('app.sessions')
      .selectAll()
      .where('id', '=', owner.session_id)
      .forUpdate()
      .executeTakeFirst();
    const now = Date.now();
    if (!session || session.revoked_at || new Date(session.expires_at).getTime() <= now) return { ok: false, reason: 'invalid' } as const;
    if (new Date(session.last_used_at).getTime() + config.sessionIdleTimeoutSeconds * 1000 <= now) {
      await tx.updateTable('app.sessions').set({ revoked_at: new Date(), revoked_reason: 'idle_timeout' }).where('id', '=', session.id).execute();
      return { ok: false, reason: 'invalid' } as const;
    }
    const rotated = await tx
      .updateTable('app.refresh_tokens')
      .set({ rotated_at: new Date() })
      .where('token_hash', '=', hash)
      .where('rotated_at', 'is', null)
      .where('expires_at', '>', new Date())
      .returning(['id'])
      .executeTakeFirst();
    if (!rotated) {
      const token = await tx.selectFrom('app.refresh_tokens').select(['rotated_at']).where('token_hash', '=', hash).executeTakeFirst();
      const rotatedAt = token?.rotated_at ? new Date(token.rotated_at).getTime() : 0;
      if (rotatedAt && now - rotatedAt < 1000) return { ok: false, reason: 'invalid' } as const; // a concurrent duplicate
      await tx.updateTable('app.sessions').set({ revoked_at: new Date(), revoked_reason: 'refresh_reuse' }).where('id', '=', session.id).execute();
      await recordAuditEvent(tx, {
        shopId: null,
        userId: owner.user_id,
        action: 'auth.refresh_reuse',
        resourceType: 'session',
        resourceId: session.id,
        result: 'denied',
        ...auditBase(config, client),
      });
      return { ok: false, reason: 'reused' } as const;
    }
    const { ipHash, userAgentHash } = fingerprint(config, client);
    if ((session.ip_hash && session.ip_hash !== ipHash) || (session.user_agent_hash && session.user_agent_hash !== userAgentHash)) {
      // Audited, and by default not blocked: mobile networks change addresses. Operators who
      // prefer the stricter rule set REFRESH_BLOCK_ON_FINGERPRINT_CHANGE (the session ends).
      const block = config.refreshBlockOnFingerprintChange;
      await recordAuditEvent(tx, {
        shopId: null,
        userId: owner.user_id,
        action: 'auth.refresh_fingerprint_changed',
        resourceType: 'session',
        resourceId: session.id,
        result: block ? 'denied' : 'success',
        metadata: { ipChanged: session.ip_hash !== ipHash, userAgentChanged: session.user_agent_hash !== userAgentHash },
        ...auditBase(config, client),
      });
      if (block) {
        await tx.updateTable('app.sessions').set({ revoked_at: new Date(), revoked_reason: 'fingerprint_changed' }).where('id', '=', session.id).execute();
        return { ok: false, reason: 'invalid' } as const;
      }
    }
    await tx.updateTable('app.sessions').set({ last_used_at: new Date(), ip_hash: ipHash, user_agent_hash: userAgentHash }).where('id', '=', session.id).execute();
    const next = await issueRefreshToken(tx, owner.user_id, session.id, new Date(session.expires_at));
    const shopId = session.active_shop_id;
    const membership = shopId
      ? await tx.selectFrom('app.memberships').select('role').where('user_id', '=', owner.user_id).where('shop_id', '=', shopId).executeTakeFirst()
      : undefined;
    if (!shopId || !membership) return { ok: false, reason: 'invalid' } as const;
    return { ok: true, session: { userId: owner.user_id, shopId, role: membership.role, sessionId: session.id, refreshToken: next } } as const;
  });
}

export async function logout(db: Db, config: Config, userId: string, sessionId: string, client: ClientInfo, everywhere = false): Promise<void> {
  await withUser(db, userId, async (tx) => {
    let query = tx.updateTable('app.sessions').set({ revoked_at: new Date(), revoked_reason: everywhere ? 'logout_all' : 'logout' }).where('user_id', '=', userId).where('revoked_at', 'is', null);
    if (!everywhere) query = query.where('id', '=', sessionId);
    await query.execute();
    await recordAuditEvent(tx, {
      shopId: null,
      userId,
      action: everywhere ? 'auth.logout_all' : 'auth.logout',
      resourceType: 'session',
      resourceId: sessionId,
      result: 'success',
      ...auditBase(config, client),
    });
  });
}

export interface SessionView {
  id: string;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  current: boolean;
}

/** The user's live sessions, newest first. */
export async function listSessions(db: Db, userId: string, currentSessionId: string): Promise<SessionView[]> {
  const rows = await withUser(db, userId, (tx) =>
    tx
      .selectFrom('app.sessions')
      .select(['id', 'created_at', 'last_used_at', 'expires_at'])
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', new Date())
      .orderBy('created_at', 'desc')
      .execute(),
  );
  return rows.map((s) => ({
    id: s.id,
    createdAt: new Date(s.created_at).toISOString(),
    lastUsedAt: new Date(s.last_used_at).toISOString(),
    expiresAt: new Date(s.expires_at).toISOString(),
    current: s.id === currentSessionId,
  }));
}

/** Revokes one of the user's own sessions; false when there is no such live session of theirs. */
export async function revokeSession(db: Db, config: Config, userId: string, sessionId: string, client: ClientInfo): Promise<boolean> {
  return withUser(db, userId, async (tx) => {
    const revoked = await tx
      .updateTable('app.sessions')
      .set({ revoked_at: new Date(), revoked_reason: 'revoked_by_user' })
      .where('id', '=', sessionId)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (revoked.numUpdatedRows === 0n) return false;
    await recordAuditEvent(tx, { shopId: null, userId, action: 'auth.session_revoke', resourceType: 'session', resourceId: sessionId, result: 'success', ...auditBase(config, client) });
    return true;
  });
}

/** Needs the current password; every other session of the user is revoked. */
export async function changePassword(
  db: Db,
  config: Config,
  userId: string,
  currentSessionId: string,
  input: { currentPassword: string; newPassword: string },
  client: ClientInfo,
): Promise<'changed' | 'wrong_password'> {
  const user = await withUser(db, userId, (tx) => tx.selectFrom('app.users').select(['email', 'password_hash']).where('id', '=', userId).executeTakeFirstOrThrow());
  if (!user.password_hash || !(await verifyPassword(user.password_hash, input.currentPassword))) {
    await withUser(db, userId, (tx) =>
      recordAuditEvent(tx, { shopId: null, userId, action: 'auth.password_change', result: 'failure', metadata: { reason: 'wrong_current_password' }, ...auditBase(config, client) }),
    );
    return 'wrong_password';
  }
  const policy = checkPassword(input.newPassword, user.email ? { email: user.email } : {});
  if (!policy.ok) {
    throw new AppError(400, 'WEAK_PASSWORD', 'The password does not meet the password policy', { field: 'body.newPassword', reasons: policy.reasons });
  }
  const passwordHash = await hashPassword(input.newPassword, hashParams(config));
  await withUser(db, userId, async (tx) => {
    await tx.updateTable('app.users').set({ password_hash: passwordHash, password_changed_at: new Date() }).where('id', '=', userId).execute();
    await tx
      .updateTable('app.sessions')
      .set({ revoked_at: new Date(), revoked_reason: 'password_change' })
      .where('user_id', '=', userId)
      .where('id', '<>', currentSessionId)
      .where('revoked_at', 'is', null)
      .execute();
    await recordAuditEvent(tx, { shopId: null, userId, action: 'auth.password_change', result: 'success', ...auditBase(config, client) });
  });
  return 'changed';
}

/**
 * Moves the session to another shop the user belongs to; null when they do not belong to
 * it (the route answers 404: another shop's id looks like a missing one).
 */
export async function switchShop(db: Db, config: Config, userId: string, sessionId: string, shopId: string, client: ClientInfo): Promise<(IssuedSession & { shop: { id: string; name: string } }) | null> {
  const session = await withUser(db, userId, async (tx) => {
    const membership = await tx.selectFrom('app.memberships').select('role').where('user_id', '=', userId).where('shop_id', '=', shopId).executeTakeFirst();
    if (!membership) return null;
    const session = await tx.selectFrom('app.sessions').select(['expires_at']).where('id', '=', sessionId).where('revoked_at', 'is', null).forUpdate().executeTakeFirst();
    if (!session) return null;
    await tx.updateTable('app.sessions').set({ active_shop_id: shopId, last_used_at: new Date() }).where('id', '=', sessionId).execute();
    // A fresh refresh token too: the old one would refresh into the new shop anyway, but the
    // cookie is replaced with the response, so the client never holds two.
    await tx.updateTable('app.refresh_tokens').set({ rotated_at: new Date() }).where('session_id', '=', sessionId).where('rotated_at', 'is', null).execute();
    const refreshToken = await issueRefreshToken(tx, userId, sessionId, new Date(session.expires_at));
    await recordAuditEvent(tx, { shopId: null, userId, action: 'auth.switch_shop', resourceType: 'shop', resourceId: shopId, result: 'success', ...auditBase(config, client) });
    return { userId, shopId, role: membership.role, sessionId, refreshToken };
  });
  if (!session) return null;
  const shop = await withShop(db, shopId, (tx) => tx.selectFrom('app.shops').select(['id', 'name']).where('id', '=', shopId).executeTakeFirstOrThrow(), userId);
  return { ...session, shop };
}

/** GET /me: the user, the current shop and the role (in the caller's tenant transaction). */
export async function whoAmI(tx: Tx, userId: string, shopId: string, role: MemberRole) {
  const user = await tx.selectFrom('app.users').select(['id', 'email']).where('id', '=', userId).executeTakeFirstOrThrow();
  const shop = await tx.selectFrom('app.shops').select(['id', 'name']).where('id', '=', shopId).executeTakeFirstOrThrow();
  return { user, shop, role };
}
