// How long billing keeps Stripe's events: 90 days once settled (migration 0093).
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';

export async function sweepStripeEvents(db: Db): Promise<number> {
  const { rows } = await sql<{ deleted: number }>`select app_private.stripe_events_sweep() as deleted`.execute(db);
  return rows[0]?.deleted ?? 0;
}
