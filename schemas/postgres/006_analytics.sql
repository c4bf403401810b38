-- Flagstaff's PostgreSQL schema, part 6: analytics.
--
-- What part 1 called `evaluation_events` held counts per hour, never single evaluations:
-- it becomes `evaluation_counts`, its rows kept, with the snapshot version as one more
-- dimension ('' for rows written before it existed) and '' for "no variant", so that a
-- count is one row whatever the variant. `evaluation_events` is then what its name says:
-- one row per sampled evaluation, partitioned by day (UTC) and dropped past the retention.

ALTER TABLE evaluation_events RENAME TO evaluation_counts;
ALTER SEQUENCE evaluation_events_id_seq RENAME TO evaluation_counts_id_seq;
ALTER INDEX evaluation_events_pkey RENAME TO evaluation_counts_pkey;
ALTER TABLE evaluation_counts RENAME CONSTRAINT evaluation_events_environment_id_fkey TO evaluation_counts_environment_id_fkey;
ALTER TABLE evaluation_counts ADD COLUMN version TEXT NOT NULL DEFAULT '';

-- The old unique constraint has a generated name; it is found rather than spelled.
DO $$
DECLARE
    old_name TEXT;
BEGIN
    FOR old_name IN
        SELECT conname FROM pg_constraint
        WHERE conrelid = 'evaluation_counts'::regclass AND contype = 'u'
    LOOP
        EXECUTE format('ALTER TABLE evaluation_counts DROP CONSTRAINT %I', old_name);
    END LOOP;
END
$$;

-- Rows without a variant become '' rows, summed with any '' rows of the same hour (part 1's
-- NULLs never collided with each other, so there may be several).
CREATE TEMPORARY TABLE evaluation_counts_unnamed AS
    SELECT environment_id, flag_key, reason, window_start, sum(count) AS count
    FROM evaluation_counts WHERE variant IS NULL OR variant = ''
    GROUP BY environment_id, flag_key, reason, window_start;
DELETE FROM evaluation_counts WHERE variant IS NULL OR variant = '';
INSERT INTO evaluation_counts (environment_id, flag_key, variant, reason, count, window_start)
    SELECT environment_id, flag_key, '', reason, count, window_start FROM evaluation_counts_unnamed;
DROP TABLE evaluation_counts_unnamed;

ALTER TABLE evaluation_counts ALTER COLUMN variant SET DEFAULT '';
ALTER TABLE evaluation_counts ALTER COLUMN variant SET NOT NULL;
ALTER TABLE evaluation_counts ADD CONSTRAINT evaluation_counts_bucket
    UNIQUE (environment_id, flag_key, window_start, variant, reason, version);

-- Every flush is a batch with an id; a batch already here is not counted again (a leader
-- that wrote a replica's batch and died before acknowledging it gets it once more).
CREATE TABLE analytics_batches (
    id              TEXT PRIMARY KEY,
    applied_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX analytics_batches_applied ON analytics_batches (applied_at);

-- Per (environment, flag, variant): the first and last hour it was served and how often,
-- kept by the same statement that adds counts, so that the stale-flags report reads one
-- row per flag and variant rather than every hour of every flag.
CREATE TABLE flag_activity (
    environment_id  BIGINT NOT NULL REFERENCES environments (id),
    flag_key        VARCHAR(50) NOT NULL,
    variant         TEXT NOT NULL,
    first_seen      TIMESTAMPTZ NOT NULL,
    last_seen       TIMESTAMPTZ NOT NULL,
    count           BIGINT NOT NULL,
    PRIMARY KEY (environment_id, flag_key, variant)
);

-- One row per sampled evaluation. The targeting key is a SHA-256 hex digest unless the
-- manifest says `targeting_key: plain`; `context` holds only the attributes it keeps.
CREATE TABLE evaluation_events (
    occurred_at     TIMESTAMPTZ NOT NULL,
    environment_id  BIGINT NOT NULL,
    flag_key        VARCHAR(50) NOT NULL,
    variant         TEXT NOT NULL,
    reason          TEXT NOT NULL,
    version         TEXT NOT NULL,
    targeting_key   TEXT,
    context         JSONB
) PARTITION BY RANGE (occurred_at);
CREATE INDEX evaluation_events_flag ON evaluation_events (environment_id, flag_key, occurred_at);

-- OpenFeature tracking events (conversions), from SDKs, partitioned and kept like the above.
CREATE TABLE tracking_events (
    occurred_at     TIMESTAMPTZ NOT NULL,
    environment_id  BIGINT NOT NULL,
    name            TEXT NOT NULL,
    targeting_key   TEXT,
    value           DOUBLE PRECISION,
    details         JSONB,
    context         JSONB
) PARTITION BY RANGE (occurred_at);
CREATE INDEX tracking_events_name ON tracking_events (environment_id, name, targeting_key);

-- Partitions are made and dropped by these two functions, run with the owner's rights: the
-- daemon's role may write rows but not create or drop tables.
CREATE FUNCTION flagstaff_event_partition(parent TEXT, day DATE) RETURNS TEXT
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    name TEXT := parent || '_' || to_char(day, 'YYYYMMDD');
BEGIN
    IF parent NOT IN ('evaluation_events', 'tracking_events') THEN
        RAISE EXCEPTION 'not an event table: %', parent;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('flagstaff_event_partitions'));
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
        name, parent, (day::timestamp AT TIME ZONE 'UTC'), ((day + 1)::timestamp AT TIME ZONE 'UTC'));
    RETURN name;
END
$$;

-- Drops the partitions of days before `before` and returns their names.
CREATE FUNCTION flagstaff_drop_event_partitions(before DATE) RETURNS SETOF TEXT
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    part RECORD;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('flagstaff_event_partitions'));
    FOR part IN
        SELECT c.relname AS name, p.relname AS parent
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname IN ('evaluation_events', 'tracking_events')
            AND c.relname ~ '_[0-9]{8}$'
            AND to_date(right(c.relname, 8), 'YYYYMMDD') < before
        ORDER BY c.relname
    LOOP
        EXECUTE format('DROP TABLE %I', part.name);
        RETURN NEXT part.name;
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION flagstaff_event_partition(TEXT, DATE) FROM PUBLIC;
REVOKE ALL ON FUNCTION flagstaff_drop_event_partitions(DATE) FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'flagstaff_writer') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON analytics_batches, flag_activity, evaluation_events, tracking_events
            TO flagstaff_writer;
        GRANT EXECUTE ON FUNCTION flagstaff_event_partition(TEXT, DATE) TO flagstaff_writer;
        GRANT EXECUTE ON FUNCTION flagstaff_drop_event_partitions(DATE) TO flagstaff_writer;
    END IF;
END
$$;
