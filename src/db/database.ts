// The `Database` the code queries: the generated table interfaces (./generated.ts, from the
// migrated database by `npm run db:types`) plus a thin layer of deliberate narrowings.
//
// generated.ts is the source of column names and nullability. An override here may only
// NARROW a column: a literal union for a text column with a CHECK, `never` for a column the
// application must not insert or update (the database computes it, or only a function
// writes it), a shape for a JSON column. `Narrow` refuses an override of a column that does
// not exist, one that changes nullability, and one whose read type is not a subtype of the
// generated one, so a migration that renames, drops or re-nulls a column breaks the type
// check here instead of leaving a stale hand-written type behind.
import type { ColumnType, SelectType } from 'kysely';
import type * as G from './generated.js';

type IsNullable<T> = null extends T ? true : false;
// JSON columns: the database says only "json", so their shape (and whether a JSON null can
// be stored) is the application's; any read type is accepted for them.
type IsJson<T> = [T] extends [G.JsonValue] ? ([G.JsonValue] extends [T] ? true : false) : false;
type Narrows<Generated, Override> =
  IsJson<SelectType<Generated>> extends true
    ? true
    : IsNullable<SelectType<Generated>> extends IsNullable<SelectType<Override>>
      ? [SelectType<Override>] extends [SelectType<Generated>]
        ? true
        : false
      : false;
type Checked<T, O> = {
  [K in keyof O]: K extends keyof T
    ? Narrows<T[K], O[K]> extends true
      ? O[K]
      : { overrideError: `${K & string}: an override must keep the generated nullability and narrow its type` }
    : { overrideError: `${K & string} is not a column of this table (see generated.ts)` };
};
/** The generated table `T` with the columns in `O` narrowed. */
export type Narrow<T, O extends Checked<T, O>> = Omit<T, keyof O> & O;

// Written with a Date or an ISO string, read as a Date; defaulted by the database.
type NeverWritten<T> = ColumnType<T, never, never>;
type InsertOnly<T, I = T> = ColumnType<T, I, never>;
type UpdateOnly<T, U = T> = ColumnType<T, never, U>;
/** A text column with a CHECK listing its values, defaulted by the database. */
type DefaultedUnion<U> = ColumnType<U, U | undefined, U>;

export type MemberRole = G.AppMemberRole;
export type ConsentState = G.AppConsentState;
export type ConsentSource = G.AppConsentSource;
export type RecipientStatus = G.AppRecipientStatus;
export type CampaignStatus = G.AppCampaignStatus;
export type ImportStatus = G.AppImportStatus;

export type ShopsTable = G.AppShops;
export type UsersTable = G.AppUsers;
export type MembershipsTable = G.AppMemberships;
export type ShopSettingsTable = G.AppShopSettings;
export type SessionsTable = G.AppSessions;
export type RefreshTokensTable = G.AppRefreshTokens;
export type MemberInvitationsTable = G.AppMemberInvitations;
export type ShopifyStaffTable = G.AppShopifyStaff;
export type TemplatesTable = G.AppTemplates;
export type TemplateUsageTable = G.AppTemplateUsage;
export type ContactImportChunksTable = G.AppContactImportChunks;
export type ContactImportErrorsTable = G.AppContactImportErrors;
export type ContactsTable = Narrow<
  G.AppContacts,
  {
    /** Written as JSON text (a jsonb parameter), read as an object. */
    attributes: ColumnType<Record<string, unknown>, string | undefined, string>;
  }
>;

export type InboundMessagesTable = Narrow<G.AppInboundMessages, { keyword: 'stop' | 'start' | 'help' | 'other' }>;

export type AuditEventsTable = Narrow<
  G.AppAuditEvents,
  {
    result: 'success' | 'failure' | 'denied';
    metadata: ColumnType<Record<string, unknown>, Record<string, unknown> | undefined, Record<string, unknown>>;
  }
>;

export type NotificationOutboxTable = Narrow<
  G.AppNotificationOutbox,
  { payload: ColumnType<Record<string, unknown>, Record<string, unknown> | undefined, Record<string, unknown>> }
>;

export type IdempotencyKeysTable = Narrow<G.AppIdempotencyKeys, { state: DefaultedUnion<'running' | 'done'> }>;

export type SegmentsTable = Narrow<
  G.AppSegments,
  {
    /** A rule tree (src/modules/segments/rules.ts); written as JSON text. */
    rule: ColumnType<unknown, string, string>;
  }
>;

// Money and progress counters move only through the wallet functions and the send path.
type Counter = UpdateOnly<string, number | string>;
export type CampaignsTable = Narrow<
  G.AppCampaigns,
  {
    status: UpdateOnly<CampaignStatus>;
    credits_reserved: Counter;
    credits_spent: Counter;
    credits_released: Counter;
    credits_committed: Counter;
    dispatch_cursor: Counter;
  }
>;

export type CampaignRecipientsTable = Narrow<G.AppCampaignRecipients, { id: NeverWritten<string> }>;

export type MessagesTable = Narrow<
  G.AppMessages,
  {
    status: DefaultedUnion<'sent' | 'delivered' | 'failed' | 'undelivered'>;
    encoding: 'GSM-7' | 'UCS-2';
  }
>;

export type CampaignBatchesTable = Narrow<
  G.AppCampaignBatches,
  {
    id: NeverWritten<string>;
    first_recipient_id: InsertOnly<string, string | number>;
    last_recipient_id: InsertOnly<string, string | number>;
    status: DefaultedUnion<'pending' | 'done'>;
  }
>;

/** How a Shopify customer gave SMS consent (migration 0150). */
export type ShopifyOptInLevel = 'SINGLE_OPT_IN' | 'CONFIRMED_OPT_IN' | 'UNKNOWN';

export type ConsentEventsTable = Narrow<
  G.AppConsentEvents,
  {
    actor_kind: 'user' | 'system' | 'contact' | 'shopify';
    occurred_at: InsertOnly<Date>;
    opt_in_level: ShopifyOptInLevel | null;
  }
>;

export type WalletsTable = Narrow<G.AppWallets, { balance: NeverWritten<string>; reserved: NeverWritten<string> }>;

export type CreditLedgerTable = Narrow<
  G.AppCreditLedger,
  {
    id: NeverWritten<string>;
    credits: NeverWritten<string>;
    balance_after: NeverWritten<string>;
    reserved_after: NeverWritten<string>;
  }
>;

export type ContactImportsTable = Narrow<
  G.AppContactImports,
  {
    status: UpdateOnly<ImportStatus>;
    bytes: InsertOnly<string, number>;
    mapping: InsertOnly<Record<string, string>, string>;
    default_consent: InsertOnly<ConsentState>;
    rows_read: UpdateOnly<number>;
    inserted: UpdateOnly<number>;
    updated: UpdateOnly<number>;
    skipped: UpdateOnly<number>;
    failed: UpdateOnly<number>;
    checkpoint_line: UpdateOnly<number>;
    error: UpdateOnly<string | null>;
  }
>;

export type SenderNumbersTable = Narrow<G.AppSenderNumbers, { status: DefaultedUnion<'active' | 'released'> }>;

export type SuppressedPhonesTable = Narrow<G.AppSuppressedPhones, { source: 'keyword' }>;

export type CreditPurchasesTable = Narrow<
  G.AppCreditPurchases,
  {
    provider: DefaultedUnion<'stripe' | 'shopify'>;
    dispute_status: 'open' | 'won' | 'lost' | null;
  }
>;

export type StripeEventsTable = Narrow<G.AppStripeEvents, { status: DefaultedUnion<'pending' | 'applied' | 'waiting' | 'ignored'> }>;

interface NarrowedTables {
  'app.contacts': ContactsTable;
  'app.inbound_messages': InboundMessagesTable;
  'app.audit_events': AuditEventsTable;
  'app.notification_outbox': NotificationOutboxTable;
  'app.idempotency_keys': IdempotencyKeysTable;
  'app.segments': SegmentsTable;
  'app.campaigns': CampaignsTable;
  'app.campaign_recipients': CampaignRecipientsTable;
  'app.messages': MessagesTable;
  'app.campaign_batches': CampaignBatchesTable;
  'app.consent_events': ConsentEventsTable;
  'app.wallets': WalletsTable;
  'app.credit_ledger': CreditLedgerTable;
  'app.contact_imports': ContactImportsTable;
  'app.sender_numbers': SenderNumbersTable;
  'app.suppressed_phones': SuppressedPhonesTable;
  'app.credit_purchases': CreditPurchasesTable;
  'app.stripe_events': StripeEventsTable;
}
// A narrowed table must be a generated one (no phantom tables).
type TablesOf<K extends keyof G.DB> = K;
export type NarrowedTableNames = TablesOf<keyof NarrowedTables>;

/** Every table of the `app` schema as generated, the narrowed ones replaced. */
export interface Database extends Omit<G.DB, keyof NarrowedTables>, NarrowedTables {}
