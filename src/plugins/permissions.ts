// Who may do what in a shop: the one permission table. Routes name a permission; the role
// comes from the membership, read on every request (never from the token alone).
import type { FastifyRequest } from 'fastify';
import type { MemberRole } from '../db/database.js';
import { AppError } from '../lib/app-error.js';
import { authOf } from './auth.js';

export const PERMISSIONS = {
  'audit.read': ['owner', 'admin'],
  'members.manage': ['owner', 'admin'],
  'billing.manage': ['owner', 'admin'],
  'settings.manage': ['owner', 'admin'],
  'contacts.write': ['owner', 'admin', 'member'],
  // Whole-audience and privacy operations: the consent chain check, GDPR requests, export.
  'contacts.privacy': ['owner', 'admin'],
  'campaigns.write': ['owner', 'admin', 'member'],
  // Pulling the shop's whole customer list from Shopify (the backfill).
  'shopify.sync': ['owner', 'admin'],
} as const satisfies Record<string, readonly MemberRole[]>;

export type Permission = keyof typeof PERMISSIONS;

export function can(role: MemberRole, permission: Permission): boolean {
  return (PERMISSIONS[permission] as readonly MemberRole[]).includes(role);
}

/** preHandler: 401 without a session, 403 when the role lacks the permission. */
export function requirePermission(permission: Permission) {
  return async (request: FastifyRequest): Promise<void> => {
    const auth = authOf(request);
    if (!can(auth.role, permission)) throw new AppError(403, 'FORBIDDEN', 'Your role in this shop does not allow this');
  };
}
