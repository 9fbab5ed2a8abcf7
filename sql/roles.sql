-- Pigeon's database roles and database, for a DBA setting up production
-- (DESIGN.md "Database roles"). psql script; safe to run again: it then resets the
-- passwords and role attributes and leaves everything else as it is.
--
-- Run it as a superuser, connected to the maintenance database `postgres`. On a managed
-- service without superuser (RDS and the like) the admin role with CREATEROLE and CREATEDB
-- works too: it then leaves out the attributes only a superuser may name, checks that the
-- roles lack them, and grants pigeon_owner to itself (PostgreSQL 16+ requires that to
-- create a database owned by pigeon_owner). On 16+ it must be the role that created the
-- three roles, or hold ADMIN on them.
--
--   psql -h db -U postgres -d postgres -X \
--     -v owner_password="$PIGEON_OWNER_PASSWORD" \
--     -v api_password="$PIGEON_API_PASSWORD" \
--     -v worker_password="$PIGEON_WORKER_PASSWORD" \
--     -f sql/roles.sql
--
-- Optional: -v dbname=pigeon_staging (default pigeon; -v db=... is accepted too).
-- With psql 15 or newer the passwords can come from the environment instead, which keeps
-- them out of the process list (`ps` shows psql's arguments):
--
--   PIGEON_OWNER_PASSWORD=... PIGEON_API_PASSWORD=... PIGEON_WORKER_PASSWORD=... \
--     psql -h db -U postgres -d postgres -X -f sql/roles.sql
--
-- Passwords: three different ones, at least 16 characters, URL-safe because they go into
-- connection strings (`openssl rand -hex 32`). They reach the server in the ALTER ROLE
-- statement, which the server stores as a SCRAM verifier; as a superuser this script
-- turns statement logging off for its own session so they do not land in the server log.
-- Do not run it with -a / -e (psql would echo the statements).
--
-- The roles:
--
--   pigeon_owner   LOGIN. Owns the database, the schemas app, app_private and
--                  pigeon_migrations, every application table, and every application
--                  function except app_private.add_job (see below). Runs the
--                  migrations (`npm run migrate`) and nothing else: never the login of a
--                  running server. NOSUPERUSER, NOCREATEDB, NOCREATEROLE, NOBYPASSRLS,
--                  NOREPLICATION: as a table owner it could switch RLS off, so it must not
--                  also be able to make roles or read replication streams. The tenant
--                  tables FORCE row-level security, so even it sees no tenant row without
--                  a policy written for it.
--                  Member of pigeon_worker (`grant pigeon_worker to pigeon_owner`): the
--                  first migration creates graphile-worker's schema *for* pigeon_worker
--                  (graphile-worker insists that its run-time role owns its schema) and
--                  transfers ownership of the app_private.add_job wrapper to it, and
--                  Postgres only lets a role give objects to a role it can become.
--
--   pigeon_api     LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION.
--                  The API server's login. Row-level security decides every row it sees.
--                  DML only (SELECT/INSERT/UPDATE/DELETE, mostly per column) on the tables
--                  it needs, granted by the migrations; never TRUNCATE, REFERENCES or
--                  TRIGGER; only SELECT and INSERT on the audit log; owns nothing. Adds jobs
--                  only through app_private.add_job. CONNECT and TEMPORARY on the database.
--
--   pigeon_worker  Same attributes as pigeon_api. The background worker's login (and the
--                  graphile-worker CLI's). DML only on application tables, owner of none
--                  of them; owns the graphile_worker schema (its queue) and the
--                  app_private.add_job function that writes to it, nothing else.
--                  CONNECT and TEMPORARY on the database.
--
-- PUBLIC gets nothing: `revoke all on database ... from public` takes away the default
-- CONNECT and TEMPORARY, so a role that is none of the three cannot even connect.
--
-- Afterwards each process uses its own role in DATABASE_URL (same host and database):
--
--   migrate  DATABASE_URL=postgres://pigeon_owner:<owner_password>@db:5432/pigeon   npm run migrate
--   API      DATABASE_URL=postgres://pigeon_api:<api_password>@db:5432/pigeon       npm run start:api
--   worker   DATABASE_URL=postgres://pigeon_worker:<worker_password>@db:5432/pigeon npm run start:worker
--
-- (A DBA who is a member of pigeon_owner may migrate with their own login: the runner
-- does SET LOCAL ROLE pigeon_owner.) Limit in pg_hba.conf where each role may connect
-- from: pigeon_owner only from where migrations run. Then check the result with
--   psql "postgres://pigeon_owner:...@db:5432/pigeon" -f sql/rls_report.sql

\set ON_ERROR_STOP on
\set ECHO none
\set QUIET on

-- Passwords: -v first, else the environment (psql 15+ for \getenv).
\if :{?owner_password}
\else
  \getenv owner_password PIGEON_OWNER_PASSWORD
\endif
\if :{?api_password}
\else
  \getenv api_password PIGEON_API_PASSWORD
\endif
\if :{?worker_password}
\else
  \getenv worker_password PIGEON_WORKER_PASSWORD
\endif
\if :{?owner_password}
\else
  \set owner_password ''
\endif
\if :{?api_password}
\else
  \set api_password ''
\endif
\if :{?worker_password}
\else
  \set worker_password ''
\endif

-- The database name: -v dbname=..., or -v db=... (older docs), else pigeon.
\if :{?dbname}
\elif :{?db}
  \set dbname :db
\else
  \set dbname pigeon
\endif

-- Refuse missing, short or shared passwords before changing anything. An empty password
-- would even be stored as "no password" and the role could not log in at all.
select count(*) > 0 as roles_sql_refused,
       format('usage: psql -v owner_password=... -v api_password=... -v worker_password=... [-v dbname=pigeon] -f sql/roles.sql'
              ' (or PIGEON_OWNER_PASSWORD, PIGEON_API_PASSWORD, PIGEON_WORKER_PASSWORD in the environment): %s',
              string_agg(problem, '; ')) as roles_sql_error
from (
  select format('%s is %s', name, case when value = '' then 'missing' else 'shorter than 16 characters' end)
  from (values ('owner_password', :'owner_password'), ('api_password', :'api_password'),
               ('worker_password', :'worker_password')) as v(name, value)
  where length(value) < 16
  union all
  select 'the three passwords must all differ'
  where (:'owner_password' in (:'api_password', :'worker_password') or :'api_password' = :'worker_password')
    and '' not in (:'owner_password', :'api_password', :'worker_password')
) as problems(problem) \gset
\if :roles_sql_refused
  \warn :roles_sql_error
  do $$ begin raise exception 'sql/roles.sql: nothing was changed (see the message above)'; end $$;
\endif

-- Keep the passwords out of the server log (needs superuser; skipped otherwise), and store
-- them as SCRAM verifiers whatever the server default is.
select current_setting('is_superuser') = 'on' as is_superuser \gset
\if :is_superuser
  set log_statement = 'none';
  set log_min_duration_statement = -1;
  set log_min_error_statement = 'panic';
\endif
set password_encryption = 'scram-sha-256';

-- Roles: created if missing, then given exactly these attributes (a re-run repairs drift).
select format('create role %I', r.rolname)
from (values ('pigeon_owner'), ('pigeon_api'), ('pigeon_worker')) as r(rolname)
where not exists (select 1 from pg_roles x where x.rolname = r.rolname) \gexec

\if :is_superuser
  alter role pigeon_owner  login nosuperuser nocreatedb nocreaterole nobypassrls noreplication password :'owner_password';
  alter role pigeon_api    login nosuperuser nocreatedb nocreaterole nobypassrls noreplication password :'api_password';
  alter role pigeon_worker login nosuperuser nocreatedb nocreaterole nobypassrls noreplication password :'worker_password';
\else
  -- A non-superuser may not even write NOSUPERUSER, NOBYPASSRLS or NOREPLICATION; roles it
  -- creates lack those attributes anyway, and the check below makes sure of it.
  alter role pigeon_owner  login nocreatedb nocreaterole password :'owner_password';
  alter role pigeon_api    login nocreatedb nocreaterole password :'api_password';
  alter role pigeon_worker login nocreatedb nocreaterole password :'worker_password';
  -- PostgreSQL 16+ lets it create a database owned by pigeon_owner only if it may SET ROLE
  -- to pigeon_owner. (It may then also run the migrations with its own login.)
  grant pigeon_owner to current_user;
\endif
select count(*) > 0 as roles_sql_privileged
from pg_roles
where rolname in ('pigeon_owner', 'pigeon_api', 'pigeon_worker')
  and (rolsuper or rolbypassrls or rolreplication or rolcreaterole or rolcreatedb or not rolcanlogin) \gset
\if :roles_sql_privileged
  do $$ begin raise exception 'sql/roles.sql: a pigeon role is SUPERUSER, BYPASSRLS, REPLICATION, CREATEROLE or CREATEDB, or cannot log in; a superuser must fix it'; end $$;
\endif

-- The migrations create graphile_worker's schema as pigeon_worker and hand it add_job.
grant pigeon_worker to pigeon_owner;

-- The database, owned by pigeon_owner; nothing for PUBLIC; the run-time roles may connect.
select format('create database %I owner pigeon_owner', :'dbname')
where not exists (select 1 from pg_database where datname = :'dbname') \gexec
select format('alter database %I owner to pigeon_owner', :'dbname') \gexec
select format('revoke all on database %I from public', :'dbname') \gexec
select format('grant connect, temporary on database %I to pigeon_api, pigeon_worker', :'dbname') \gexec

\unset QUIET
select r.rolname as role, r.rolcanlogin as login, r.rolsuper as superuser, r.rolbypassrls as bypassrls,
       coalesce((select string_agg(distinct m.rolname, ', ') from pg_auth_members am join pg_roles m on m.oid = am.roleid
                 where am.member = r.oid), '') as member_of
from pg_roles r
where r.rolname in ('pigeon_owner', 'pigeon_api', 'pigeon_worker')
order by r.rolname;
select d.datname as database, pg_get_userbyid(d.datdba) as owner, d.datacl as privileges
from pg_database d
where d.datname = :'dbname';
