-- Flagstaff's PostgreSQL schema, part 7: management keys (SPEC §14).
-- A `manage` key calls the management API with a role (viewer, editor, owner), for every
-- project or one; it is bound to no environment, so for it the environment (and, for an
-- organisation-wide key, the project) is NULL. Every other type keeps both.

ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_type_check;
ALTER TABLE api_keys
    ADD COLUMN role TEXT,
    ADD CONSTRAINT api_keys_type_check CHECK (type IN ('server', 'client', 'admin', 'manage')),
    ADD CONSTRAINT api_keys_role_check CHECK (
        (type = 'manage' AND role IN ('viewer', 'editor', 'owner'))
        OR (type <> 'manage' AND role IS NULL)),
    ALTER COLUMN project_key DROP NOT NULL,
    ALTER COLUMN environment_key DROP NOT NULL,
    ADD CONSTRAINT api_keys_scope_check CHECK (
        type = 'manage' OR (project_key IS NOT NULL AND environment_key IS NOT NULL));
