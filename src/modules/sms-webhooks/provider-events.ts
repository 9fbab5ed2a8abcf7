// The replay guard of the provider's webhooks: each event id is remembered in the same
// transaction that applies the event, so a replay (or a retry after a crash) changes
// nothing. The ids are swept after 30 days (retention.ts).
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';

/** True the first time this event id is seen. */
export async function rememberProviderEvent(tx: Tx, eventId: string, kind: 'status' | 'inbound'): Promise<boolean> {
  const { rows } = await sql<{ fresh: boolean }>`select app_private.remember_provider_event(${eventId}, ${kind}) as fresh`.execute(tx);
  return rows[0]?.fresh === true;
}
