-- Flagstaff's PostgreSQL schema, part 2: guards and indexes that sync needs.

-- audit_logs is append-only. The hash chain detects changes; this refuses them up front.
-- A session that really must (tests proving the chain catches tampering, a repair by hand)
-- turns it off for itself with: SET flagstaff.allow_audit_tamper = on
CREATE FUNCTION audit_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('flagstaff.allow_audit_tamper', true) = 'on' THEN
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_logs is append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'the hash chain (flagstaff audit verify) would report the change anyway';
END
$$;

CREATE TRIGGER audit_logs_no_update_delete BEFORE UPDATE OR DELETE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION audit_logs_append_only();
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION audit_logs_append_only();

-- A rejected commit is recorded once per environment: the sync daemon looks it up each poll.
CREATE INDEX audit_logs_rejected_commits ON audit_logs (project, environment, commit_sha)
    WHERE action = 'sync.rejected';
