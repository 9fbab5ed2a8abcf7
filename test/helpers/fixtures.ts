// Fixtures arranged through the superuser pool: test set-up crosses tenants on purpose,
// the code under test never does.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';

export async function createShop(admin: pg.Pool, name = 'Shop'): Promise<string> {
  const id = randomUUID();
  await admin.query('insert into app.shops (id, name) values ($1, $2)', [id, name]);
  await admin.query('insert into app.shop_settings (shop_id) values ($1)', [id]);
  return id;
}

export async function createUser(admin: pg.Pool, email = `${randomUUID()}@example.test`): Promise<string> {
  const id = randomUUID();
  await admin.query('insert into app.users (id, email) values ($1, $2)', [id, email]);
  return id;
}

export async function addMember(admin: pg.Pool, shopId: string, userId: string, role: 'owner' | 'admin' | 'member' = 'owner'): Promise<void> {
  await admin.query('insert into app.memberships (shop_id, user_id, role) values ($1, $2, $3)', [shopId, userId, role]);
}
