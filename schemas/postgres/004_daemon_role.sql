-- Flagstaff's PostgreSQL schema, part 4: a role for the daemon that may add audit rows but
-- never change, delete or truncate them.
--
-- `flagstaff_writer` cannot log in; the daemon's own login role is made a member of it:
--     CREATE ROLE flagstaff_daemon LOGIN PASSWORD '…' IN ROLE flagstaff_writer;
-- Migrations run as the owner of the tables (an administrator's URL); the daemon then runs
-- with its own URL and finds nothing to migrate. The append-only trigger of part 2 stays,
-- for the owner, but the writer's guard is its privileges, which no setting changes.
-- Roles belong to the whole cluster, so another database may already have made this one.
DO $$
BEGIN
    CREATE ROLE flagstaff_writer NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- PostgreSQL 15 no longer lets every role create objects in `public`; older servers do.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO flagstaff_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO flagstaff_writer;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO flagstaff_writer;
-- Tables and sequences of later migrations, made by the same owner, are granted the same.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO flagstaff_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO flagstaff_writer;

-- The audit trail: read and append, nothing else.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_logs FROM flagstaff_writer;
-- What the migrator records is the owner's business.
REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM flagstaff_writer;
