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
  sending_paused: Generated<boolean>;
  frequency_cap_per_day: Generated<number>;
  opt_out_text: Generated<string>;
  default_region: Generated<string>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface InboundMessagesTable {
  shop_id: string;
  id: Generated<string>;
  event_id: string;
  contact_id: string | null;
  keyword: 'stop' | 'start' | 'help' | 'other';
  received_at: Timestamp;
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

export interface SegmentsTable {
  shop_id: string;
  id: Generated<string>;
  name: string;
  /** A rule tree (src/modules/segments/rules.ts); written as JSON text. */
  rule: ColumnType<unknown, string, string>;
  created_by: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface CampaignsTable {
  shop_id: string;
  id: Generated<string>;
  name: string;
  body: string;
  segment_id: string | null;
  template_id: string | null;
  discount_code: string | null;
  status: ColumnType<'draft' | 'scheduled' | 'queued' | 'sending' | 'sent' | 'failed' | 'cancelled', never, 'draft' | 'scheduled' | 'queued' | 'sending' | 'sent' | 'failed' | 'cancelled'>;
  scheduled_at: NullableTimestamp;
  queued_at: NullableTimestamp;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  cancelled_at: NullableTimestamp;
  failure_reason: string | null;
  recipients_total: Generated<number>;
  credits_reserved: ColumnType<string, never, number | string>;
  credits_spent: ColumnType<string, never, number | string>;
  credits_released: ColumnType<string, never, number | string>;
  credits_committed: ColumnType<string, never, number | string>;
  reservation_expires_at: NullableTimestamp;
  batches_in_flight: Generated<number>;
  dispatch_cursor: ColumnType<string, never, number | string>;
  created_by: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  /** When the retention job anonymised this finished campaign's recipients and messages. */
  personal_data_removed_at: NullableTimestamp;
}

export type RecipientStatus = 'queued' | 'sending' | 'sent' | 'delivered' | 'failed' | 'skipped' | 'cancelled';

export interface CampaignRecipientsTable {
  shop_id: string;
  campaign_id: string;
  id: ColumnType<string, never, never>;
  /** Null once the retention job anonymised the finished campaign. */
  contact_id: string | null;
  status: ColumnType<RecipientStatus, RecipientStatus | undefined, RecipientStatus>;
  skip_reason: string | null;
  attempts: Generated<number>;
  segments: number | null;
  credits: number | null;
  provider_message_id: string | null;
  error_code: string | null;
  updated_at: Timestamp;
}

export interface MessagesTable {
  shop_id: string;
  id: Generated<string>;
  campaign_id: string;
  recipient_id: string;
  /** Both null once the retention job anonymised the finished campaign. */
  contact_id: string | null;
  provider_message_id: string | null;
  status: Generated<'sent' | 'delivered' | 'failed' | 'undelivered'>;
  segments: number;
  encoding: 'GSM-7' | 'UCS-2';
  credits: number;
  error_code: string | null;
  from_number: string | null;
  sent_at: Timestamp;
  status_at: NullableTimestamp;
  refunded_at: NullableTimestamp;
}

export interface CampaignBatchesTable {
  shop_id: string;
  campaign_id: string;
  id: ColumnType<string, never, never>;
  first_recipient_id: ColumnType<string, string | number, never>;
  last_recipient_id: ColumnType<string, string | number, never>;
  status: Generated<'pending' | 'done'>;
  created_at: Timestamp;
  done_at: NullableTimestamp;
}

export type ConsentState = 'subscribed' | 'unsubscribed' | 'never';
export type ConsentSource = 'import' | 'api' | 'shopify' | 'keyword' | 'admin';

export interface ContactsTable {
  shop_id: string;
  id: Generated<string>;
  phone_e164: string | null;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  attributes: ColumnType<Record<string, unknown>, string | undefined, string>;
  time_zone: string | null;
  country: string | null;
  consent_state: ColumnType<ConsentState, ConsentState | undefined, ConsentState>;
  consent_updated_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
  deleted_at: NullableTimestamp;
  last_ordered_at: NullableTimestamp;
  last_clicked_at: NullableTimestamp;
}

export interface ConsentEventsTable {
  shop_id: string;
  contact_id: string;
  seq: number;
  state: ConsentState;
  previous_state: ConsentState | null;
  source: ConsentSource;
  actor_kind: 'user' | 'system' | 'contact' | 'shopify';
  actor_id: string | null;
  occurred_at: ColumnType<Date, Date, never>;
  pii_digest: Buffer;
  pii_salt: Buffer | null;
  pii_phone: string | null;
  prev_hash: Buffer;
  hash: Buffer;
}

export interface WalletsTable {
  shop_id: string;
  balance: ColumnType<string, never, never>;
  reserved: ColumnType<string, never, never>;
  updated_at: Timestamp;
}

export interface CreditLedgerTable {
  shop_id: string;
  id: ColumnType<string, never, never>;
  kind: 'purchase' | 'reserve' | 'release' | 'debit' | 'refund' | 'adjustment';
  credits: ColumnType<string, never, never>;
  balance_after: ColumnType<string, never, never>;
  reserved_after: ColumnType<string, never, never>;
  idempotency_key: string;
  reference_type: string | null;
  reference_id: string | null;
  reason: string | null;
  actor_id: string | null;
  created_at: Timestamp;
}

export interface ContactImportsTable {
  shop_id: string;
  id: Generated<string>;
  status: ColumnType<'queued' | 'running' | 'completed' | 'failed', never, 'queued' | 'running' | 'completed' | 'failed'>;
  file_name: string | null;
  bytes: ColumnType<string, number, never>;
  mapping: ColumnType<Record<string, string>, string, never>;
  default_consent: ColumnType<ConsentState, ConsentState, never>;
  rows_total: number | null;
  rows_read: ColumnType<number, never, number>;
  inserted: ColumnType<number, never, number>;
  updated: ColumnType<number, never, number>;
  skipped: ColumnType<number, never, number>;
  failed: ColumnType<number, never, number>;
  checkpoint_line: ColumnType<number, never, number>;
  error: ColumnType<string | null, never, string | null>;
  created_by: string | null;
  created_at: Timestamp;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
}

export interface ContactImportChunksTable {
  shop_id: string;
  import_id: string;
  seq: number;
  data: Buffer;
}

export interface ContactImportErrorsTable {
  shop_id: string;
  import_id: string;
  line: number;
  reason: string;
  /** The phone with all but its last digits masked (src/lib/phone-mask.ts); never the CSV line. */
  phone_masked: string | null;
  /** The contact that held the row's phone when it was written; its redaction deletes the row. */
  contact_id: string | null;
}

export interface SenderNumbersTable {
  shop_id: string;
  id: Generated<string>;
  phone_e164: string;
  provider_number_id: string | null;
  status: Generated<'active' | 'released'>;
  assigned_at: Timestamp;
  released_at: NullableTimestamp;
  quarantined_until: NullableTimestamp;
}

export interface SuppressedPhonesTable {
  shop_id: string;
  phone_e164: string;
  source: 'keyword';
  created_at: Timestamp;
}

export interface Database {
  'app.sender_numbers': SenderNumbersTable;
  'app.suppressed_phones': SuppressedPhonesTable;
  'app.contact_imports': ContactImportsTable;
  'app.contact_import_chunks': ContactImportChunksTable;
  'app.contact_import_errors': ContactImportErrorsTable;
  'app.wallets': WalletsTable;
  'app.credit_ledger': CreditLedgerTable;
  'app.contacts': ContactsTable;
  'app.consent_events': ConsentEventsTable;
  'app.inbound_messages': InboundMessagesTable;
  'app.campaign_batches': CampaignBatchesTable;
  'app.campaigns': CampaignsTable;
  'app.campaign_recipients': CampaignRecipientsTable;
  'app.messages': MessagesTable;
  'app.segments': SegmentsTable;
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
