-- Datasets and jobs: what license holders upload, and the engine runs they ask for. The jobs
-- table is both the record of every job and the queue that workers claim from.

CREATE TABLE datasets (
    id           uuid PRIMARY KEY,
    customer_id  uuid NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    created_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    format       text NOT NULL CHECK (format IN ('csv', 'parquet')),
    size_bytes   bigint NOT NULL CHECK (size_bytes >= 0),
    sha256       bytea NOT NULL CHECK (length(sha256) = 32),
    -- Column names in file order (a JSON array of strings) and data rows, read by the engine.
    columns      jsonb NOT NULL CHECK (jsonb_typeof(columns) = 'array'),
    row_count    bigint NOT NULL CHECK (row_count >= 0),
    -- Where the bytes are in the object store.
    storage_key  text NOT NULL UNIQUE,
    -- Identical bytes uploaded again by the same account are the same dataset.
    UNIQUE (customer_id, sha256)
);
CREATE INDEX datasets_customer_idx ON datasets (customer_id, created_at DESC);

CREATE TABLE jobs (
    id                  uuid PRIMARY KEY,
    customer_id         uuid NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    created_by          uuid REFERENCES users (id) ON DELETE SET NULL,
    -- The license the job runs under (its entitlements set the limits).
    license_id          uuid NOT NULL REFERENCES licenses (id) ON DELETE RESTRICT,
    -- A dataset can be deleted once no queued or running job uses it; finished jobs keep
    -- their record (and artifacts) without it.
    dataset_id          uuid REFERENCES datasets (id) ON DELETE SET NULL,
    -- The job this one retries (same inputs), if any.
    retry_of            uuid REFERENCES jobs (id) ON DELETE SET NULL,
    state               text NOT NULL DEFAULT 'queued'
                        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    -- The experiment as validated (the platform sets data.path and output.dir at run time).
    experiment          jsonb NOT NULL CHECK (jsonb_typeof(experiment) = 'object'),
    -- Idempotency-Key of the submitting request and a hash of its body.
    idempotency_key     text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_hash        bytea CHECK (length(request_hash) = 32),
    -- Attempts so far; the current attempt number is the fencing token every write of a
    -- worker must present, so that a worker that lost its lease cannot write over a newer one.
    attempt             integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts        integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 20),
    worker_id           text,
    lease_expires_at    timestamptz,
    cancel_requested_at timestamptz,
    stage               text,
    progress_done       bigint NOT NULL DEFAULT 0,
    progress_total      bigint NOT NULL DEFAULT 0,
    -- Why the job failed, in words (an engine data error names file, column and row).
    error               text,
    -- The run's summary (JSON) once it succeeded.
    summary             jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    -- When a finished job's artifacts are deleted, and when they were.
    artifacts_expire_at timestamptz,
    artifacts_deleted_at timestamptz,
    UNIQUE (customer_id, idempotency_key),
    CHECK ((idempotency_key IS NULL) = (request_hash IS NULL)),
    CHECK ((state = 'running') = (lease_expires_at IS NOT NULL)),
    CHECK ((state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
    CHECK (attempt <= max_attempts),
    CHECK (dataset_id IS NOT NULL OR state IN ('succeeded', 'failed', 'cancelled'))
);
CREATE INDEX jobs_customer_idx ON jobs (customer_id, created_at DESC, id DESC);
CREATE INDEX jobs_queued_idx ON jobs (created_at) WHERE state = 'queued';
CREATE INDEX jobs_running_idx ON jobs (customer_id) WHERE state = 'running';
CREATE INDEX jobs_dataset_idx ON jobs (dataset_id);
CREATE INDEX jobs_expiring_idx ON jobs (artifacts_expire_at) WHERE artifacts_expire_at IS NOT NULL;

-- What happened to a job, in order: state changes, stages, progress, log lines. The id is the
-- Server-Sent Events id (replay with Last-Event-ID).
CREATE TABLE job_events (
    id      bigserial PRIMARY KEY,
    job_id  uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at      timestamptz NOT NULL DEFAULT now(),
    kind    text NOT NULL CHECK (kind IN ('state', 'stage', 'progress', 'log')),
    data    jsonb NOT NULL
);
CREATE INDEX job_events_job_idx ON job_events (job_id, id);

-- The files of a job's run directory in the object store.
CREATE TABLE job_artifacts (
    job_id     uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    path       text NOT NULL CHECK (length(path) BETWEEN 1 AND 1024),
    size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
    sha256     bytea NOT NULL CHECK (length(sha256) = 32),
    PRIMARY KEY (job_id, path)
);

-- Workers LISTEN: new work (a job queued), cancellations, and events for live followers.
CREATE FUNCTION fox_notify_job_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fox_jobs_queued', NEW.id::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER jobs_queued AFTER INSERT OR UPDATE OF state ON jobs
    FOR EACH ROW WHEN (NEW.state = 'queued') EXECUTE FUNCTION fox_notify_job_queued();

CREATE FUNCTION fox_notify_job_cancel() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fox_jobs_cancel', NEW.id::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER jobs_cancel AFTER UPDATE OF cancel_requested_at ON jobs
    FOR EACH ROW WHEN (NEW.cancel_requested_at IS NOT NULL AND OLD.cancel_requested_at IS NULL)
    EXECUTE FUNCTION fox_notify_job_cancel();

CREATE FUNCTION fox_notify_job_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fox_job_events', NEW.job_id::text || ' ' || NEW.id::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER job_events_added AFTER INSERT ON job_events
    FOR EACH ROW EXECUTE FUNCTION fox_notify_job_event();
