-- Commerce and licensing: customers, user accounts, licenses and their keys, machine
-- activations, Stripe event ledger, one-time tokens, API tokens, audit log, lead notes.

CREATE TABLE customers (
    id                 uuid PRIMARY KEY,
    created_at         timestamptz NOT NULL DEFAULT now(),
    email              text NOT NULL UNIQUE CHECK (email = lower(email) AND position('@' IN email) > 1),
    name               text NOT NULL DEFAULT '',
    company            text NOT NULL DEFAULT '',
    stripe_customer_id text UNIQUE
);

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    created_at    timestamptz NOT NULL DEFAULT now(),
    email         text NOT NULL UNIQUE CHECK (email = lower(email) AND position('@' IN email) > 1),
    role          text NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'sales', 'admin')),
    -- argon2id PHC string; NULL until the user sets a password through the emailed link.
    password_hash text,
    customer_id   uuid UNIQUE REFERENCES customers (id) ON DELETE RESTRICT,
    -- Bumped on password change: sessions remember the epoch they were created in.
    session_epoch integer NOT NULL DEFAULT 0,
    CHECK (role <> 'customer' OR customer_id IS NOT NULL)
);

CREATE TABLE licenses (
    id                         uuid PRIMARY KEY,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    customer_id                uuid NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    tier                       text NOT NULL CHECK (length(tier) BETWEEN 1 AND 64),
    status                     text NOT NULL DEFAULT 'ACTIVE'
                               CHECK (status IN ('ACTIVE', 'SUSPENDED', 'EXPIRED', 'REVOKED')),
    status_reason              text,
    seats                      integer NOT NULL CHECK (seats BETWEEN 1 AND 100000),
    starts_at                  timestamptz NOT NULL DEFAULT now(),
    expires_at                 timestamptz NOT NULL,
    -- While a renewal payment is failing, the license keeps working until this moment.
    grace_until                timestamptz,
    entitlements               jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(entitlements) = 'object'),
    source                     text NOT NULL CHECK (source IN ('checkout', 'sales', 'cli')),
    stripe_checkout_session_id text UNIQUE,
    stripe_subscription_id     text UNIQUE,
    stripe_customer_id         text,
    stripe_payment_intent_id   text UNIQUE,
    CHECK (expires_at > starts_at),
    CHECK (source <> 'checkout' OR stripe_checkout_session_id IS NOT NULL)
);
CREATE INDEX licenses_customer_idx ON licenses (customer_id);
CREATE INDEX licenses_stripe_customer_idx ON licenses (stripe_customer_id);

-- Only a keyed hash (HMAC-SHA256) of each key is stored; the key is shown once and emailed.
CREATE TABLE license_keys (
    key_hash   bytea PRIMARY KEY CHECK (length(key_hash) = 32),
    license_id uuid NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    -- The readable start of the key (e.g. FOX1-eyJ2Ijox…), to recognise it in the dashboard.
    hint       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX license_keys_license_idx ON license_keys (license_id);

CREATE TABLE machines (
    id             uuid PRIMARY KEY,
    license_id     uuid NOT NULL REFERENCES licenses (id) ON DELETE CASCADE,
    fingerprint    text NOT NULL CHECK (length(fingerprint) BETWEEN 8 AND 256),
    name           text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    activated_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    deactivated_at timestamptz
);
-- One active activation per machine and license; seat limits are enforced under a row lock.
CREATE UNIQUE INDEX machines_active_fingerprint_idx ON machines (license_id, fingerprint) WHERE deactivated_at IS NULL;

-- Stripe subscriptions as last reported (events can arrive out of order).
CREATE TABLE subscriptions (
    id                 text PRIMARY KEY,
    status             text NOT NULL,
    tier               text,
    current_period_end timestamptz,
    cancel_at          timestamptz,
    last_event_at      timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Every processed webhook event, recorded in the same transaction as its effects.
CREATE TABLE stripe_events (
    id          text PRIMARY KEY,
    type        text NOT NULL,
    created     timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_tokens (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('set_password', 'reset_password')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    CHECK (expires_at > created_at)
);

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- Visible start of the token (fox_ab12cd34), shown in the dashboard.
    prefix       text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    -- Who acted, as shown in the log: a user's email, "cli" or "stripe".
    actor       text NOT NULL,
    action      text NOT NULL,
    target_type text NOT NULL,
    target_id   text NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);

CREATE TABLE lead_notes (
    id         uuid PRIMARY KEY,
    lead_id    uuid NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    author_id  uuid REFERENCES users (id) ON DELETE SET NULL,
    body       text NOT NULL CHECK (length(body) BETWEEN 1 AND 5000),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Messages holding secrets (license keys, one-time links) lose their bodies once sent.
ALTER TABLE email_outbox ADD COLUMN sensitive boolean NOT NULL DEFAULT false;
