// sql/rls_report.sql is what a DBA runs; here it must find nothing outside the allowlist,
// and it must find each problem when one is introduced.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { createTestDatabase } from './helpers/database.js';

const REPORT = await readFile(path.resolve(import.meta.dirname, '../sql/rls_report.sql'), 'utf8');

// Findings that are by design. Each needs a reason; keep this list short.
const ALLOWLIST: Array<{ check: string; object: string; detail: RegExp; why: string }> = [
  {
    check: 'fk_without_shop_id',
    object: 'app.memberships',
    detail: /memberships_user_id_fkey/,
    why: 'users are global identities (one person, several shops), not rows of a shop',
  },
  {
    check: 'fk_without_shop_id',
    object: 'app.template_usage',
    detail: /template_usage_template_id_fkey/,
    why: 'templates are one global, read-only catalogue; usage counts point into it',
  },
  {
    check: 'fk_without_shop_id',
    object: 'app.credit_purchases',
    detail: /credit_purchases_package_id_fkey/,
    why: 'credit packages are one global catalogue priced by the server; a purchase names the package it copied',
  },
  {
    check: 'unique_without_shop_id',
    object: 'app.sender_numbers',
    detail: /sender_numbers_active_number_idx/,
    why: 'a sending number is active for one shop globally (inbound STOP/START find the shop by it); only operators (the worker role) write the table, so the key tells no shop anything',
  },
  {
    check: 'unique_without_shop_id',
    object: 'app.shops',
    detail: /shops_shopify_domain_key/,
    why: 'a Shopify store domain identifies one shop globally; only the verified OAuth callback writes it',
  },
  {
    check: 'unique_without_shop_id',
    object: 'app.audit_events',
    detail: /audit_events_pkey/,
    why: 'server-generated random UUIDs: a collision reveals nothing, and shop_id is null for shop-less events',
  },
];

interface Finding {
  check_name: string;
  object_name: string;
  detail: string;
}

async function findings(admin: pg.Pool): Promise<Finding[]> {
  // Both statements in one simple-protocol call: pg returns one result per statement.
  const results = (await admin.query(REPORT)) as unknown as pg.QueryResult[];
  return results[results.length - 1]!.rows as Finding[];
}

const isAllowed = (f: Finding) =>
  ALLOWLIST.some((a) => a.check === f.check_name && a.object === f.object_name && a.detail.test(f.detail));

t.test('the migrated schema has no finding outside the allowlist', async (t) => {
  const db = await createTestDatabase(t);
  const all = await findings(db.admin);
  t.same(all.filter((f) => !isAllowed(f)), [], 'no unexpected findings');
  for (const allowed of ALLOWLIST) {
    t.ok(all.some((f) => f.check_name === allowed.check && f.object_name === allowed.object), `allowlist entry still needed: ${allowed.check} ${allowed.object}`);
  }
  const results = (await db.admin.query(REPORT)) as unknown as pg.QueryResult[];
  const inventory = results[0]!.rows as Array<{ table: string; rls_enabled: boolean }>;
  t.ok(inventory.some((r) => r.table === 'shops'), 'the inventory lists the tables');
});

t.test('each kind of hole is reported', async (t) => {
  const db = await createTestDatabase(t);
  await db.admin.query(`
    set role pigeon_owner;
    alter table app.shop_settings no force row level security;
    create table app.leaky (id uuid primary key, shop_id uuid not null, email text unique, other_id uuid references app.users (id));
    grant select, update on app.leaky to pigeon_api;
    create table app.half_policy (shop_id uuid not null, note text);
    alter table app.half_policy enable row level security;
    alter table app.half_policy force row level security;
    create index on app.half_policy (shop_id);
    create policy half_policy_rw on app.half_policy for all to pigeon_api using (shop_id = app.current_shop_id());
    grant select, insert on app.half_policy to pigeon_api;
    create policy shops_public on app.shops for select using (true);
    create function app_private.sneaky() returns int language sql security definer as 'select 1';
    create view app.leaky_view as select id from app.shops;
    reset role;
    grant truncate on app.shops to pigeon_api;
    grant update on app.audit_events to pigeon_worker;
    grant select on app.shops to public;
    grant execute on function app_private.sneaky() to public;
  `);
  const got = (await findings(db.admin)).filter((f) => !isAllowed(f));
  const has = (check: string, object: string | RegExp) =>
    t.ok(
      got.some((f) => f.check_name === check && (typeof object === 'string' ? f.object_name === object : object.test(f.object_name))),
      `${check} ${object}`,
    );
  has('rls_not_forced', 'app.shop_settings');
  has('rls_not_enabled', 'app.leaky');
  has('rls_not_forced', 'app.leaky');
  has('policy_missing_using_or_check', 'app.leaky');
  has('policy_missing_using_or_check', /app\.half_policy/);
  has('unique_without_shop_id', 'app.leaky');
  has('fk_without_shop_id', 'app.leaky');
  has('no_index_led_by_shop_id', 'app.leaky');
  has('policy_without_role', /app\.shops \(policy shops_public\)/);
  has('security_definer_without_search_path', /app_private\.sneaky/);
  has('public_privilege', /app_private\.sneaky/);
  has('view_without_security_invoker', 'app.leaky_view');
  has('runtime_role_forbidden_privilege', 'app.shops');
  has('audit_events_mutable', 'app.audit_events');
  has('public_privilege', 'app.shops');
});
