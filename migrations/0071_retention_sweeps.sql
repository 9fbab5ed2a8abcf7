-- Retention of operational personal data (README, "Personal data"). The daily per-shop
-- job (src/modules/maintenance/service.ts, applyRetention) runs as pigeon_worker inside
-- withShop, under the same policies as every other statement; this migration gives it the
-- few privileges it needs and nothing more. Policies exist before the grants.

------------------------------------------------------------------------------
-- Campaign recipients and messages of a finished campaign are ANONYMISED, not deleted:
-- the credit ledger is financial and stays, its debits point at recipients
-- ('campaign_recipient', '<campaign>:<recipient id>') and its refunds at messages; campaign
-- metrics count recipients by status and sum refunded messages. What makes such a row
-- personal is its contact_id (the person) and its provider_message_id (the provider's
-- record of the text, with the number): both become null; status, segments, credits and
-- times stay.
alter table app.campaign_recipients alter column contact_id drop not null;
alter table app.messages alter column contact_id drop not null;
alter table app.messages alter column provider_message_id drop not null;
-- When the job anonymised the campaign's recipients and messages: a finished campaign is
-- done once, not re-scanned every day.
alter table app.campaigns add column personal_data_removed_at timestamptz;

-- The policies campaign_recipients_current, messages_current and campaigns_current (0040)
-- are FOR ALL to pigeon_worker with USING and WITH CHECK on the current shop.
grant update (contact_id) on app.campaign_recipients to pigeon_worker;
grant update (contact_id, provider_message_id) on app.messages to pigeon_worker;
grant update (personal_data_removed_at) on app.campaigns to pigeon_worker;

------------------------------------------------------------------------------
-- Inbound messages older than the shop's retention are deleted: the consent change a
-- STOP or START made is in the consent chain, which is the evidence; the inbound row only
-- says that the contact texted a keyword. inbound_messages_current (0040) is FOR ALL to
-- pigeon_worker.
create index inbound_messages_shop_received_idx on app.inbound_messages (shop_id, received_at);
grant delete on app.inbound_messages to pigeon_worker;

-- Import error rows (0070 gave the worker DELETE) and upload chunks (0022) are deleted with
-- their import's age; an import still unfinished at the cut-off is marked failed (0022 lets
-- the worker update status, error and finished_at).

------------------------------------------------------------------------------
-- Sessions belong to users, not shops, so no shop's retention applies: a session is kept
-- 30 days after it ended (expired or revoked), for "where was I signed in" and for reading
-- a refresh-token reuse in its aftermath, then deleted with its refresh tokens (ON DELETE
-- CASCADE). The worker sees and deletes ONLY such sessions: the policies are the limit,
-- so a bug in the sweep cannot end a live session. Its hashes (ip_hash, user_agent_hash)
-- are keyed HMACs, never the address or the agent string.
create policy sessions_ended_sweep_read on app.sessions for select to pigeon_worker
  using (least(revoked_at, expires_at) < now() - interval '30 days');
create policy sessions_ended_sweep_delete on app.sessions for delete to pigeon_worker
  using (least(revoked_at, expires_at) < now() - interval '30 days');
grant select (id, expires_at, revoked_at), delete on app.sessions to pigeon_worker;
