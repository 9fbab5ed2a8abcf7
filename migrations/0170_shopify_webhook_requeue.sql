-- A Shopify webhook whose job was lost or used up its attempts stays 'pending': nothing
-- would ever apply it (a customers/redact among them). The reconciler (cron
-- shopify_webhooks_reconcile) queues such webhooks again, through the one function that
-- makes their job, so an outage longer than the job's retries loses nothing. The job is
-- keyed: a webhook whose job is still queued is not queued twice.
create function app_private.requeue_stale_shopify_webhooks(p_older_than timestamptz, p_limit integer) returns integer
  language plpgsql volatile security definer
  set search_path = ''
  as $$
declare
  v_id text;
  v_count integer := 0;
begin
  for v_id in
    select w.webhook_id from app.shopify_webhooks w
     where w.status = 'pending' and w.received_at < p_older_than
       and not exists (select 1 from graphile_worker.jobs j where j.key = 'shopify-webhook:' || w.webhook_id and j.attempts < j.max_attempts)
     order by w.received_at limit p_limit
  loop
    perform app_private.add_shopify_webhook_job(v_id);
    v_count := v_count + 1;
  end loop;
  return v_count;
end
$$;
revoke all on function app_private.requeue_stale_shopify_webhooks(timestamptz, integer) from public;
grant execute on function app_private.requeue_stale_shopify_webhooks(timestamptz, integer) to pigeon_worker;
