-- Leads from the Request Access / Contact Sales form, and the email outbox.

CREATE TABLE leads (
    id          uuid PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email       text NOT NULL CHECK (length(email) BETWEEN 3 AND 254 AND position('@' IN email) > 1),
    company     text NOT NULL CHECK (length(company) BETWEEN 1 AND 200),
    role        text NOT NULL DEFAULT '' CHECK (length(role) <= 200),
    team_size   text NOT NULL CHECK (team_size IN ('1', '2-5', '6-20', '21-100', '100+')),
    use_case    text NOT NULL DEFAULT '' CHECK (length(use_case) <= 5000),
    tier        text NOT NULL CHECK (length(tier) BETWEEN 1 AND 64),
    status      text NOT NULL DEFAULT 'new'
                CHECK (status IN ('new', 'contacted', 'qualified', 'won', 'lost'))
);

CREATE INDEX leads_status_created_idx ON leads (status, created_at DESC);

-- Every email is written here first (in the same transaction as what caused it) and sent by
-- a background worker, so a message is never lost when the mail server is down.
CREATE TABLE email_outbox (
    id              uuid PRIMARY KEY,
    created_at      timestamptz NOT NULL DEFAULT now(),
    kind            text NOT NULL,
    -- Deduplicates messages caused by retried events (e.g. one key email per license).
    dedupe_key      text UNIQUE,
    to_address      text NOT NULL,
    subject         text NOT NULL,
    body_text       text NOT NULL,
    body_html       text,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    sent_at         timestamptz,
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);

CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at) WHERE status = 'pending';
