-- Flagstaff's PostgreSQL schema, part 3: API keys name their project and environment by key.
-- A new deployment makes its keys before the daemon has ever synced (and so before any
-- environments row exists); `environment_id` is filled in once the environment is recorded.

ALTER TABLE api_keys ADD COLUMN project_key VARCHAR(50), ADD COLUMN environment_key VARCHAR(50);
UPDATE api_keys k SET project_key = p.key, environment_key = e.key
    FROM environments e JOIN projects p ON p.id = e.project_id
    WHERE e.id = k.environment_id;
ALTER TABLE api_keys
    ALTER COLUMN project_key SET NOT NULL,
    ALTER COLUMN environment_key SET NOT NULL,
    ALTER COLUMN environment_id DROP NOT NULL;
CREATE INDEX api_keys_environment ON api_keys (project_key, environment_key);
