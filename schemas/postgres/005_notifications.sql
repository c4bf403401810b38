-- Flagstaff's PostgreSQL schema, part 5: the outbox of outbound notifications (webhooks).
--
-- A notification is written in the transaction that causes it (a sync, a rejection), or
-- once by whoever notices a schedule step (`dedupe_key` makes a second insert a no-op).
-- Receivers are configured outside Git and outside this database: a row here only says
-- when a receiver was first seen, so that one added later does not get the history, and
-- never holds its URL (webhook URLs are secrets), only a digest of it and a safe name.
-- A delivery row is written when a notification is done with for a receiver: delivered,
-- refused (4xx) or given up; what has none is still pending.

CREATE TABLE notifications (
    id              BIGSERIAL PRIMARY KEY,
    uid             UUID NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    dedupe_key      TEXT NOT NULL UNIQUE,
    event           TEXT NOT NULL,
    project         TEXT NOT NULL,
    environment     TEXT NOT NULL,
    revision        BIGINT,
    version         TEXT,
    commit_sha      TEXT,
    author          TEXT,
    occurred_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    details         JSONB NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX notifications_occurred ON notifications (occurred_at);

CREATE TABLE notification_receivers (
    id              BIGSERIAL PRIMARY KEY,
    -- sha256 of the URL, hex: which configured receiver this is, without the URL.
    fingerprint     TEXT NOT NULL UNIQUE,
    -- scheme://host:port and a short digest, for status and logs.
    name            TEXT NOT NULL,
    -- Notifications with a greater id are for this receiver; earlier ones are history.
    since_id        BIGINT NOT NULL,
    first_seen_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE notification_deliveries (
    notification_id BIGINT NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    receiver_id     BIGINT NOT NULL REFERENCES notification_receivers (id) ON DELETE CASCADE,
    state           TEXT NOT NULL CHECK (state IN ('delivered', 'failed', 'given_up')),
    attempts        INTEGER NOT NULL,
    status_code     INTEGER,
    error           TEXT,
    finished_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (notification_id, receiver_id)
);
CREATE INDEX notification_deliveries_receiver ON notification_deliveries (receiver_id, state);

-- The daemon's role (part 4) writes all three; its default privileges already cover tables
-- made by the same owner, but a migration run by another role would not get them.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'flagstaff_writer') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON notifications, notification_receivers, notification_deliveries
            TO flagstaff_writer;
        GRANT USAGE, SELECT ON SEQUENCE notifications_id_seq, notification_receivers_id_seq TO flagstaff_writer;
    END IF;
END
$$;
