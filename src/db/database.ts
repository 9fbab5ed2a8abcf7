// Table types, one interface per table, as Kysely's example app does.
import type { ColumnType, Generated } from 'kysely';

// Defaulted by the database on insert (undefined allowed), a Date when read.
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export type MemberRole = 'owner' | 'admin' | 'member';

export interface ShopsTable {
  id: Generated<string>;
  name: string;
  shopify_domain: string | null;
  /** Key-ring ciphertext only (src/lib/key-ring.ts). */
  shopify_access_token: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface UsersTable {
  id: Generated<string>;
  /** Null for a Shopify staff identity (created by a session-token exchange). */
  email: string | null;
  password_hash: string | null;
  failed_login_count: Generated<number>;
  locked_until: ColumnType<Date | null, Date | null | undefined, Date | null>;
  password_changed_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface MembershipsTable {
  shop_id: string;
  user_id: string;
  role: MemberRole;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ShopSettingsTable {
  shop_id: string;
  timezone: Generated<string>;
  quiet_hours_start: Generated<string>;
  quiet_hours_end: Generated<string>;
  retention_days: Generated<number>;
  sender_name: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AuditEventsTable {
  id: Generated<string>;
  shop_id: string | null;
  user_id: string | null;
  action: string;
  resource_type: string | null;
  resource_id: string | null;
  result: 'success' | 'failure' | 'denied';
  ip_hash: string | null;
  user_agent: string | null;
  request_id: string | null;
  metadata: Generated<Record<string, unknown>>;
  created_at: Timestamp;
}

export interface SessionsTable {
  id: Generated<string>;
  user_id: string;
  active_shop_id: string | null;
  created_at: Timestamp;
  last_used_at: ColumnType<Date, Date | string | undefined, Date | string>;
  expires_at: ColumnType<Date, Date | string, Date | string>;
  revoked_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  revoked_reason: string | null;
  user_agent_hash: string | null;
  ip_hash: string | null;
}

export interface RefreshTokensTable {
  id: Generated<string>;
  session_id: string;
  user_id: string;
  token_hash: Buffer;
  created_at: Timestamp;
  expires_at: ColumnType<Date, Date | string, Date | string>;
  rotated_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

export interface NotificationOutboxTable {
  id: Generated<string>;
  user_id: string;
  kind: string;
  payload: Generated<Record<string, unknown>>;
  created_at: Timestamp;
  sent_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface MemberInvitationsTable {
  shop_id: string;
  id: Generated<string>;
  email: string;
  role: MemberRole;
  token_hash: Buffer;
  /** Key-ring ciphertext of the token, for the mailer. */
  token_ciphertext: string;
  invited_by: string | null;
  created_at: Timestamp;
  expires_at: Date | string;
  sent_at: NullableTimestamp;
  accepted_at: NullableTimestamp;
  accepted_by: string | null;
  revoked_at: NullableTimestamp;
}

export interface ShopifyStaffTable {
  shop_id: string;
  shopify_user_id: string;
  user_id: string;
  created_at: Timestamp;
}

export interface IdempotencyKeysTable {
  shop_id: string;
  key: string;
  request_hash: Buffer;
  state: Generated<'running' | 'done'>;
  response_status: number | null;
  response_content_type: string | null;
  response_body: string | null;
  created_at: Timestamp;
  locked_until: Date | string;
  expires_at: Date | string;
}

export interface TemplatesTable {
  id: string;
  name: string;
  category: string;
  body: string;
  created_at: Timestamp;
}

export interface TemplateUsageTable {
  shop_id: string;
  template_id: string;
  uses: number;
  last_used_at: NullableTimestamp;
}

export interface Database {
  'app.templates': TemplatesTable;
  'app.template_usage': TemplateUsageTable;
  'app.idempotency_keys': IdempotencyKeysTable;
  'app.member_invitations': MemberInvitationsTable;
  'app.shopify_staff': ShopifyStaffTable;
  'app.sessions': SessionsTable;
  'app.refresh_tokens': RefreshTokensTable;
  'app.notification_outbox': NotificationOutboxTable;
  'app.shops': ShopsTable;
  'app.users': UsersTable;
  'app.memberships': MembershipsTable;
  'app.shop_settings': ShopSettingsTable;
  'app.audit_events': AuditEventsTable;
}
