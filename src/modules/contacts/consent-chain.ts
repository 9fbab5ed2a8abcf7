// The consent hash chain: how a link is hashed, and how a shop's chains are verified.
// The same functions build links (consent.ts, the import) and check them, so there is
// one definition of "valid".
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { ConsentSource, ConsentState } from '../../db/database.js';
import type { Tx } from '../../db/with-shop.js';
import type { BrokenLink, ConsentVerification } from './schemas.js';

export interface LinkContent {
  shopId: string;
  contactId: string;
  seq: number;
  state: ConsentState;
  previousState: ConsentState | null;
  source: ConsentSource;
  actorKind: string;
  actorId: string | null;
  occurredAt: Date;
  piiDigest: Buffer;
  prevHash: Buffer;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest();

/** The anchor of a contact's chain: bound to the shop and the contact. */
export function genesisHash(shopId: string, contactId: string): Buffer {
  return sha256(`pigeon-consent-genesis\n${shopId.toLowerCase()}\n${contactId.toLowerCase()}`);
}

/** PII enters the chain only through this digest (salted: a phone number is guessable). */
export function piiDigest(salt: Buffer, phone: string): Buffer {
  return sha256(Buffer.concat([salt, Buffer.from(phone, 'utf8')]));
}

// Salts are drawn from a pool filled 4,096 at a time: one randomBytes call per salt was the
// largest single CPU cost of a million-row import (bench:import). Each salt is a copy, so
// no salt keeps the pool alive, and no salt is ever handed out twice.
const SALT_BYTES = 16;
const SALTS_PER_FILL = 4096;
let saltPool = Buffer.alloc(0);
let saltOffset = 0;

export function newSalt(): Buffer {
  if (saltOffset + SALT_BYTES > saltPool.length) {
    saltPool = randomBytes(SALT_BYTES * SALTS_PER_FILL);
    saltOffset = 0;
  }
  const salt = Buffer.from(saltPool.subarray(saltOffset, saltOffset + SALT_BYTES));
  saltOffset += SALT_BYTES;
  return salt;
}

/** SHA-256 over a canonical JSON array of the link's content (fixed order, no whitespace). */
export function linkHash(link: LinkContent): Buffer {
  return sha256(
    JSON.stringify([
      'pigeon-consent-v1',
      link.shopId.toLowerCase(),
      link.contactId.toLowerCase(),
      link.seq,
      link.state,
      link.previousState,
      link.source,
      link.actorKind,
      link.actorId ? link.actorId.toLowerCase() : null,
      link.occurredAt.toISOString(),
      link.piiDigest.toString('hex'),
      link.prevHash.toString('hex'),
    ]),
  );
}

interface ChainRow {
  contact_id: string;
  seq: number;
  state: ConsentState;
  previous_state: ConsentState | null;
  source: ConsentSource;
  actor_kind: string;
  actor_id: string | null;
  occurred_at: Date;
  pii_digest: Buffer;
  pii_salt: Buffer | null;
  pii_phone: string | null;
  prev_hash: Buffer;
  hash: Buffer;
  /** Null: the link names no contact of the shop (there is no foreign key: migration 0041). */
  contact_state: ConsentState | null;
}


/**
 * Walks every chain of the shop in (contact, seq) order, in pages (never the whole table
 * in memory), and stops at the first broken link: a changed field (hash mismatch), a
 * missing or reordered link (seq gap, prev_hash not the previous hash), PII that no longer
 * matches its digest, a contact whose current state is not its chain's last state (a
 * deleted tail), or a link whose contact is not one of the shop's.
 */
export async function verifyShopChains(tx: Tx, shopId: string, pageSize = 5000): Promise<ConsentVerification> {
  const report: ConsentVerification = { ok: true, contacts: 0, events: 0, firstBroken: null };
  let after: { contactId: string; seq: number } | null = null;
  let current: { contactId: string; seq: number; hash: Buffer; state: ConsentState; contactState: ConsentState } | null = null;
  const fail = (broken: BrokenLink) => ({ ...report, ok: false, firstBroken: broken });

  const closeContact = (): BrokenLink | null =>
    current && current.state !== current.contactState ? { contactId: current.contactId, seq: current.seq + 1, reason: "the contact's consent state is not its chain's last state (a link is missing at the end)" } : null;

  for (;;) {
    const page: { rows: ChainRow[] } = await sql<ChainRow>`
      select e.contact_id, e.seq, e.state, e.previous_state, e.source, e.actor_kind, e.actor_id, e.occurred_at,
             e.pii_digest, e.pii_salt, e.pii_phone, e.prev_hash, e.hash, c.consent_state as contact_state
        from app.consent_events e
        left join app.contacts c on c.shop_id = e.shop_id and c.id = e.contact_id
       where e.shop_id = ${shopId}
         ${after ? sql`and (e.contact_id, e.seq) > (${after.contactId}::uuid, ${after.seq})` : sql``}
       order by e.contact_id, e.seq
       limit ${pageSize}`.execute(tx);
    const rows = page.rows;
    for (const row of rows) {
      if (row.contact_state === null) return fail({ contactId: row.contact_id, seq: row.seq, reason: 'the link names no contact of this shop' });
      if (!current || current.contactId !== row.contact_id) {
        const broken = closeContact();
        if (broken) return fail(broken);
        report.contacts++;
        if (row.seq !== 1) return fail({ contactId: row.contact_id, seq: 1, reason: 'the first link is missing' });
        current = { contactId: row.contact_id, seq: 0, hash: genesisHash(shopId, row.contact_id), state: 'never', contactState: row.contact_state };
      }
      report.events++;
      if (row.seq !== current.seq + 1) return fail({ contactId: row.contact_id, seq: current.seq + 1, reason: 'a link is missing' });
      if (!row.prev_hash.equals(current.hash)) return fail({ contactId: row.contact_id, seq: row.seq, reason: 'prev_hash is not the previous link' });
      const expected = linkHash({
        shopId,
        contactId: row.contact_id,
        seq: row.seq,
        state: row.state,
        previousState: row.previous_state,
        source: row.source,
        actorKind: row.actor_kind,
        actorId: row.actor_id,
        occurredAt: new Date(row.occurred_at),
        piiDigest: row.pii_digest,
        prevHash: row.prev_hash,
      });
      if (!expected.equals(row.hash)) return fail({ contactId: row.contact_id, seq: row.seq, reason: 'the content does not match its hash' });
      if (row.pii_salt && row.pii_phone !== null && !piiDigest(row.pii_salt, row.pii_phone).equals(row.pii_digest)) {
        return fail({ contactId: row.contact_id, seq: row.seq, reason: 'the recorded phone does not match its digest' });
      }
      current = { contactId: row.contact_id, seq: row.seq, hash: row.hash, state: row.state, contactState: row.contact_state };
    }
    if (rows.length < pageSize) break;
    const last: ChainRow = rows[rows.length - 1]!;
    after = { contactId: last.contact_id, seq: last.seq };
  }
  const broken = closeContact();
  if (broken) return fail(broken);
  // Every contact starts its chain when it is created: one without any link lost them all.
  const { rows: orphans } = await sql<{ id: string }>`
    select c.id from app.contacts c
     where c.shop_id = ${shopId} and not exists (select 1 from app.consent_events e where e.shop_id = c.shop_id and e.contact_id = c.id)
     order by c.id limit 1`.execute(tx);
  if (orphans[0]) return fail({ contactId: orphans[0].id, seq: 1, reason: 'the contact has no consent history at all' });
  return report;
}
