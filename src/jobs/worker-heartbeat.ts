// Worker heartbeats and the release of dead workers' jobs.
//
// graphile-worker keeps a job locked by a crashed worker (kill -9, OOM, a lost host) for 4
// hours. Each worker process writes a heartbeat for its worker pool id (the jobs'
// locked_by) every few seconds; a job locked longer than the timeout by an id with no fresh
// heartbeat belongs to a dead process and is released through graphile-worker's public
// force_unlock_workers. Every worker does this on start and on every beat, and the
// reconciler does it too, so a dead worker's jobs run again within about one timeout.
// The worker role owns graphile-worker's schema: these queries run as that role, on its
// public `jobs` view, never on `_private_*` tables.
import { sql } from 'kysely';
import type { Db } from '../db/kysely.js';

export async function recordHeartbeat(db: Db, workerId: string, processName: string): Promise<void> {
  await sql`
    insert into app_private.worker_heartbeats (worker_id, process, started_at, seen_at) values (${workerId}, ${processName.slice(0, 200)}, now(), now())
    on conflict (worker_id) do update set seen_at = now()`.execute(db);
}

/** Releases the jobs of worker ids whose heartbeat is stale (or was never written); returns those ids. */
export async function releaseDeadWorkers(db: Db, timeoutSeconds: number): Promise<string[]> {
  const { rows } = await sql<{ locked_by: string }>`
    select distinct j.locked_by from graphile_worker.jobs j
     where j.locked_by is not null
       and j.locked_at < now() - make_interval(secs => ${timeoutSeconds})
       and not exists (select 1 from app_private.worker_heartbeats h
                        where h.worker_id = j.locked_by and h.seen_at > now() - make_interval(secs => ${timeoutSeconds}))`.execute(db);
  const ids = rows.map((r) => r.locked_by);
  if (ids.length > 0) await releaseWorkers(db, ids);
  // A dead process's row has served its purpose once its jobs are free; keep the table small.
  await sql`delete from app_private.worker_heartbeats where seen_at < now() - interval '1 day'`.execute(db);
  return ids;
}

/** Frees every job locked by these worker ids (graphile-worker's public function). */
export async function releaseWorkers(db: Db, workerIds: string[]): Promise<void> {
  if (workerIds.length === 0) return;
  await sql`select graphile_worker.force_unlock_workers(${workerIds}::text[])`.execute(db);
  await sql`delete from app_private.worker_heartbeats where worker_id = any(${workerIds}::text[])`.execute(db);
}
