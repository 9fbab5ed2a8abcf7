-- Invitations hold the invitee's e-mail address. Once an invitation has ended (accepted,
-- revoked or expired) it has served its purpose; the per-shop retention job deletes it
-- when it ended before the shop's cut-off (the audit log keeps who invited whom, by id).
-- member_invitations_current (0009) is FOR ALL to pigeon_worker with USING and WITH CHECK.
grant delete on app.member_invitations to pigeon_worker;
