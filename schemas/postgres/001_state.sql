-- Flagstaff's PostgreSQL schema, part 1: the state projection of the flag repository
-- (what Git says, as of the last applied commit) and what sync needs.
-- Applied in a transaction by `flagstaff migrate` (and at daemon start).

CREATE TABLE organizations (
    id          BIGSERIAL PRIMARY KEY,
    key         VARCHAR(50) NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE projects (
    id              BIGSERIAL PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    key             VARCHAR(50) NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (organization_id, key)
);

CREATE TABLE environments (
    id          BIGSERIAL PRIMARY KEY,
    project_id  BIGINT NOT NULL REFERENCES projects (id),
    key         VARCHAR(50) NOT NULL,
    name        TEXT NOT NULL,
    branch      TEXT NOT NULL,
    production  BOOLEAN NOT NULL DEFAULT false,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (project_id, key)
);

-- A flag as a project knows it, whatever the environment.
CREATE TABLE feature_flags (
    id          BIGSERIAL PRIMARY KEY,
    project_id  BIGINT NOT NULL REFERENCES projects (id),
    key         VARCHAR(50) NOT NULL,
    name        TEXT NOT NULL,
    description TEXT,
    type        TEXT NOT NULL CHECK (type IN ('boolean', 'string', 'number', 'json')),
    owner       TEXT,
    tags        TEXT[] NOT NULL DEFAULT '{}',
    expires     DATE,
    archived_at TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (project_id, key)
);

-- A flag in one environment, overlays applied: the compiled form, as the snapshot has it.
CREATE TABLE flag_configurations (
    id              BIGSERIAL PRIMARY KEY,
    flag_id         BIGINT NOT NULL REFERENCES feature_flags (id),
    environment_id  BIGINT NOT NULL REFERENCES environments (id),
    enabled         BOOLEAN NOT NULL,
    configuration   JSONB NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (flag_id, environment_id)
);

-- Segments differ per environment (overlays), so each row is one segment in one environment.
CREATE TABLE segments (
    id              BIGSERIAL PRIMARY KEY,
    environment_id  BIGINT NOT NULL REFERENCES environments (id),
    key             VARCHAR(50) NOT NULL,
    name            TEXT NOT NULL,
    definition      JSONB NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (environment_id, key)
);

CREATE TABLE api_keys (
    id              BIGSERIAL PRIMARY KEY,
    environment_id  BIGINT NOT NULL REFERENCES environments (id),
    name            TEXT NOT NULL,
    type            TEXT NOT NULL CHECK (type IN ('server', 'client', 'admin')),
    prefix          TEXT NOT NULL UNIQUE,
    secret_hash     BYTEA NOT NULL,
    expires_at      TIMESTAMPTZ,
    revoked_at      TIMESTAMPTZ,
    last_used_at    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE evaluation_events (
    id              BIGSERIAL PRIMARY KEY,
    environment_id  BIGINT NOT NULL REFERENCES environments (id),
    flag_key        VARCHAR(50) NOT NULL,
    variant         TEXT,
    reason          TEXT NOT NULL,
    count           BIGINT NOT NULL,
    window_start    TIMESTAMPTZ NOT NULL,
    UNIQUE (environment_id, flag_key, variant, reason, window_start)
);

-- Append-only and hash-chained: each row's hash covers its content and the previous hash.
CREATE TABLE audit_logs (
    id              BIGSERIAL PRIMARY KEY,
    occurred_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    project         VARCHAR(50),
    environment     VARCHAR(50),
    resource_type   TEXT NOT NULL,
    resource_key    TEXT NOT NULL,
    commit_sha      TEXT,
    branch          TEXT,
    message         TEXT,
    before          JSONB,
    after           JSONB,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL UNIQUE
);

-- Every snapshot ever applied, per environment, with a revision counting up from 1.
CREATE TABLE snapshots (
    id              BIGSERIAL PRIMARY KEY,
    environment_id  BIGINT NOT NULL REFERENCES environments (id),
    revision        BIGINT NOT NULL,
    version         TEXT NOT NULL,
    commit_sha      TEXT NOT NULL,
    branch          TEXT NOT NULL,
    content         JSONB NOT NULL,
    applied_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (environment_id, revision)
);

-- Messages to publish to Redis, written in the same transaction as the snapshot.
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    channel         TEXT NOT NULL,
    payload         JSONB NOT NULL,
    snapshot_id     BIGINT REFERENCES snapshots (id),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at    TIMESTAMPTZ
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- What the daemon last did per environment, for /api/v1/status and the metrics.
CREATE TABLE sync_status (
    environment_id  BIGINT PRIMARY KEY REFERENCES environments (id),
    commit_sha      TEXT,
    revision        BIGINT,
    synced_at       TIMESTAMPTZ,
    last_error      TEXT,
    last_error_at   TIMESTAMPTZ
);
