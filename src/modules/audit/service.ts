// The audit log: append-only rows written inside the caller's transaction.
import type { FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';
import { keyedHash } from '../../lib/keyed-hash.js';
import type { Actor } from '../../lib/actor.js';

/** Who made a request, as the audit log and sessions record it. */
export interface ClientInfo {
  ip: string;
  userAgent: string | undefined;
  requestId: string;
}

export function clientInfo(request: FastifyRequest): ClientInfo {
  const ua = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof ua === 'string' ? ua.slice(0, 512) : undefined, requestId: String(request.id) };
}

/** The requester's fields of an audit row: the IP only as a keyed hash. */
export function auditFields(ipHashSecret: string, client: ClientInfo): Pick<AuditEventInput, 'ipHash' | 'userAgent' | 'requestId'> {
  return { ipHash: keyedHash(ipHashSecret, client.ip), userAgent: client.userAgent ?? null, requestId: client.requestId };
}

export interface AuditEventInput {
  shopId: string | null;
  userId?: string | null;
  action: string;
  resourceType?: string;
  resourceId?: string;
  result: 'success' | 'failure' | 'denied';
  ipHash?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
  /** Never secrets or PII: ids, counts, reasons. */
  metadata?: Record<string, unknown>;
}

export async function recordAuditEvent(tx: Tx, event: AuditEventInput): Promise<void> {
  await tx
    .insertInto('app.audit_events')
    .values({
      shop_id: event.shopId,
      user_id: event.userId ?? null,
      action: event.action,
      resource_type: event.resourceType ?? null,
      resource_id: event.resourceId ?? null,
      result: event.result,
      ip_hash: event.ipHash ?? null,
      user_agent: event.userAgent?.slice(0, 512) ?? null,
      request_id: event.requestId ?? null,
      metadata: event.metadata ?? {},
    })
    .execute();
}

/** Removes the current shop's events older than `before`; returns how many. */
export async function purgeAuditEventsBefore(tx: Tx, before: Date): Promise<number> {
  const { rows } = await sql<{ purged: number }>`select app_private.purge_audit_events(${before}) as purged`.execute(tx);
  return rows[0]?.purged ?? 0;
}

/** An operation's audit row: the actor (who, from where) and what was done. */
export async function audit(tx: Tx, actor: Actor, event: Omit<AuditEventInput, 'shopId' | 'userId' | 'ipHash' | 'userAgent' | 'requestId'>): Promise<void> {
  await recordAuditEvent(tx, { shopId: actor.shopId, userId: actor.userId, ipHash: actor.ipHash, userAgent: actor.userAgent, requestId: actor.requestId, ...event });
}
