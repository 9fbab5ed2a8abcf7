-- Pigeon's database roles, for a DBA setting up production. Run as a superuser (or a role
-- with CREATEROLE) on the `postgres` database, with each role's password given to psql:
--
--   psql "postgres://postgres@db-host/postgres" -v ON_ERROR_STOP=1 \
--     -v owner_password="$PIGEON_OWNER_PASSWORD" \
--     -v api_password="$PIGEON_API_PASSWORD" \
--     -v worker_password="$PIGEON_WORKER_PASSWORD" \
--     -f sql/roles.sql
--
-- Safe to run again (it then updates the passwords and attributes). Generate URL-safe
-- passwords (`openssl rand -hex 32`): they end up in connection strings. Then create the
-- database (the block at the end, or `-v db=pigeon` is the default name), then migrate as
-- pigeon_owner, and give each process its own role in DATABASE_URL:
--
--   npm run migrate        DATABASE_URL=postgres://pigeon_owner:…@db-host/pigeon
--   npm run start:api      DATABASE_URL=postgres://pigeon_api:…@db-host/pigeon
--   npm run start:worker   DATABASE_URL=postgres://pigeon_worker:…@db-host/pigeon
--
-- The roles:
--   pigeon_owner   owns the database, the schemas and every application table; runs the
--                  migrations. Never used by a running server. Member of pigeon_worker,
--                  because migrations create graphile-worker's schema for that role and
--                  hand it the app_private.add_job wrapper.
--   pigeon_api     the API's run-time login. NOBYPASSRLS: row-level security decides what
--                  it sees. Owns nothing; DML only on the tables it needs, no TRUNCATE,
--                  REFERENCES or TRIGGER; SELECT/INSERT only on the audit log.
--   pigeon_worker  the worker's run-time login. NOBYPASSRLS, DML only on application
--                  tables like pigeon_api. Owns the graphile_worker schema and nothing else
--                  (graphile-worker requires its run-time role to own its schema).
-- sql/rls_report.sql checks all of this on a live database.

\if :{?owner_password}
\else
  \echo 'usage: psql -v owner_password=... -v api_password=... -v worker_password=... -f sql/roles.sql'
  \quit
\endif
\if :{?db}
\else
  \set db pigeon
\endif

select format('create role %I', r) from (values ('pigeon_owner'), ('pigeon_api'), ('pigeon_worker')) v(r)
 where not exists (select 1 from pg_roles where rolname = r) \gexec

alter role pigeon_owner login nosuperuser nocreatedb nocreaterole nobypassrls noreplication password :'owner_password';
alter role pigeon_api login nosuperuser nocreatedb nocreaterole nobypassrls noreplication password :'api_password';
alter role pigeon_worker login nosuperuser nocreatedb nocreaterole nobypassrls noreplication password :'worker_password';

grant pigeon_worker to pigeon_owner;

-- The database, owned by the owner role; nothing for PUBLIC.
select format('create database %I owner pigeon_owner', :'db')
 where not exists (select 1 from pg_database where datname = :'db') \gexec
select format('revoke all on database %I from public', :'db') \gexec
select format('grant connect, temporary on database %I to pigeon_api, pigeon_worker', :'db') \gexec
