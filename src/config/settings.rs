//! The typed settings tree. Every field has a doc comment: it becomes the field's description
//! in `config/schema.json` and in the generated configuration reference.

use super::secret::Secret;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Fox ML Infrastructure server configuration.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// HTTP server: address, public URL, limits.
    pub server: ServerSettings,
    /// PostgreSQL connection.
    pub database: DatabaseSettings,
    /// Log output format and filter.
    pub log: LogSettings,
    /// Keys used to protect forms and sessions.
    pub security: SecuritySettings,
    /// Outgoing email (sales notifications, license keys).
    pub email: EmailSettings,
    /// Per-client rate limits.
    pub rate_limit: RateLimitSettings,
    /// Stripe Checkout and webhooks. Leave the keys unset to disable online checkout.
    pub stripe: StripeSettings,
    /// License key signing.
    pub license: LicenseSettings,
    /// Pricing tiers shown on the website and sold through checkout or sales.
    pub pricing: PricingSettings,
    /// Where the website's content is read from at start-up.
    pub site: SiteSettings,
    /// Where datasets and job artifacts are stored.
    pub storage: StorageSettings,
    /// The job runner (`fox worker`, and the worker embedded in `fox serve`).
    pub worker: WorkerSettings,
    /// Jobs and datasets.
    pub jobs: JobSettings,
    /// Engine builds offered to license holders on the dashboard.
    pub downloads: DownloadSettings,
}

/// Engine builds offered on the dashboard's Downloads page.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DownloadSettings {
    /// Directory of the release artifacts (`scripts/release-engine.sh` writes them); every regular file in it is offered, with its SHA-256, to accounts with an active license.
    pub dir: String,
}

impl Default for DownloadSettings {
    fn default() -> Self {
        Self {
            dir: "var/downloads".into(),
        }
    }
}

/// Where datasets and job artifacts are kept. Every server and worker must use the same store.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSettings {
    /// `local`: a directory on this machine (one machine only); `s3`: an S3-compatible bucket (shared by servers and workers on several machines).
    pub backend: StorageBackend,
    /// Directory of the `local` backend.
    pub local_dir: String,
    /// Directory where uploads are spooled while they are checked, before they go to the store (must hold the largest allowed dataset; on the same file system as `local_dir`, a local upload is moved into place without a copy).
    pub spool_dir: String,
    /// The `s3` backend.
    pub s3: S3Settings,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Local,
            local_dir: "var/storage".into(),
            spool_dir: "var/spool".into(),
            s3: S3Settings::default(),
        }
    }
}

/// Where the object store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    #[default]
    Local,
    S3,
}

/// An S3-compatible bucket.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct S3Settings {
    /// Bucket name.
    pub bucket: String,
    /// Region, e.g. `eu-west-1` (any value for most S3-compatible servers).
    pub region: String,
    /// Endpoint URL of an S3-compatible server (MinIO, Ceph, …); unset for AWS.
    pub endpoint: Option<String>,
    /// Access key id.
    pub access_key_id: Option<Secret>,
    /// Secret access key.
    pub secret_access_key: Option<Secret>,
    /// Allow a plain `http://` endpoint (test servers only).
    pub allow_http: bool,
    /// Key prefix inside the bucket, e.g. `fox/`.
    pub prefix: String,
}

/// The job runner: `fox worker`, and the worker embedded in `fox serve`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSettings {
    /// Job slots of the worker embedded in `fox serve` (0 turns it off: run `fox worker` processes instead).
    #[schemars(range(max = 64))]
    pub embedded_slots: u32,
    /// Job slots of a `fox worker` process (`--slots` overrides).
    #[schemars(range(min = 1, max = 64))]
    pub slots: u32,
    /// Engine threads per job (0: the machine's cores divided by the slots).
    #[schemars(range(max = 256))]
    pub threads_per_job: u32,
    /// Directory for each running job's inputs and outputs (removed after the job).
    pub work_dir: String,
    /// Seconds a claimed job stays leased without a heartbeat before another worker may re-run it.
    #[schemars(range(min = 3, max = 3600))]
    pub lease_secs: u64,
    /// Seconds between polls for new work when notifications are missed; also the reaper's period.
    #[schemars(range(min = 1, max = 300))]
    pub poll_secs: u64,
    /// Attempts a job gets when its worker disappears (an engine failure is never retried).
    #[schemars(range(min = 1, max = 20))]
    pub max_attempts: u32,
    /// Seconds a cancelled job's process gets after SIGTERM before SIGKILL.
    #[schemars(range(min = 1, max = 60))]
    pub kill_grace_secs: u64,
    /// The `fox` binary that runs jobs (`fox job-run`); unset: this process's own binary.
    pub runner: Option<String>,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            embedded_slots: 1,
            slots: 1,
            threads_per_job: 0,
            work_dir: "var/work".into(),
            lease_secs: 30,
            poll_secs: 5,
            max_attempts: 3,
            kill_grace_secs: 5,
            runner: None,
        }
    }
}

/// Jobs and datasets.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct JobSettings {
    /// Days a finished job's artifacts are kept (the job's record stays).
    #[schemars(range(min = 1, max = 3650))]
    pub artifact_retention_days: u32,
    /// Largest accepted experiment (bytes of YAML text).
    #[schemars(range(min = 1024, max = 1048576))]
    pub max_experiment_bytes: u64,
    /// Dataset uploads one account may stream at the same time (per server process); one
    /// more answers 429 until one has finished.
    #[schemars(range(min = 1, max = 64))]
    pub max_uploads_per_account: u32,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            artifact_retention_days: 30,
            max_experiment_bytes: 65536,
            max_uploads_per_account: 2,
        }
    }
}

/// Website content locations (relative paths are resolved from the working directory).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SiteSettings {
    /// Folder of static files (CSS, icons), served with content-hashed names.
    pub static_dir: String,
    /// Folder of Markdown documentation pages.
    pub docs_dir: String,
}

impl Default for SiteSettings {
    fn default() -> Self {
        Self {
            static_dir: "static".into(),
            docs_dir: "content/docs".into(),
        }
    }
}

/// HTTP server settings.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Interface to bind, e.g. `127.0.0.1` or `0.0.0.0` in a container.
    pub host: String,
    /// TCP port to listen on.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// Absolute URL under which visitors reach the site (used for links in emails, canonical URLs and the sitemap).
    pub public_url: String,
    /// Seconds after which a request is aborted with 408.
    #[schemars(range(min = 1, max = 3600))]
    pub request_timeout_secs: u64,
    /// Largest accepted request body in bytes.
    #[schemars(range(min = 1024, max = 104857600))]
    pub body_limit_bytes: u64,
    /// Seconds that in-flight requests get to finish after SIGTERM or Ctrl-C (after the drain delay).
    #[schemars(range(min = 0, max = 600))]
    pub shutdown_grace_secs: u64,
    /// Seconds between SIGTERM and closing the listener: `/readyz` answers 503 and responses ask clients to close their connections, so load balancers stop sending traffic before the server stops accepting it.
    #[schemars(range(min = 0, max = 300))]
    pub shutdown_drain_secs: u64,
    /// Reverse proxies (CIDR ranges such as `10.0.0.0/8` or single addresses) whose `X-Forwarded-For` header is believed. The client address is the right-most address in that header not in this list; requests from anyone else are taken at their socket address and their header is ignored.
    pub trusted_proxies: Vec<String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            public_url: "http://127.0.0.1:8080".into(),
            request_timeout_secs: 30,
            body_limit_bytes: 256 * 1024,
            shutdown_grace_secs: 10,
            shutdown_drain_secs: 5,
            trusted_proxies: Vec::new(),
        }
    }
}

/// PostgreSQL connection settings.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// Database server host.
    pub host: String,
    /// Database server port.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// User name.
    pub username: String,
    /// Password; unset for trust or peer authentication.
    pub password: Option<Secret>,
    /// Database name; created at start-up when missing.
    pub name: String,
    /// Largest number of pooled connections.
    #[schemars(range(min = 1, max = 1000))]
    pub max_connections: u32,
    /// Seconds to wait for a pooled connection before failing the request.
    #[schemars(range(min = 1, max = 600))]
    pub acquire_timeout_secs: u64,
    /// Require TLS to the database.
    pub require_ssl: bool,
    /// Seconds to keep retrying (with back-off) at start-up while PostgreSQL is not reachable yet, before giving up.
    #[schemars(range(min = 0, max = 3600))]
    pub connect_retry_secs: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 5432,
            username: "postgres".into(),
            password: None,
            name: "fox".into(),
            max_connections: 10,
            acquire_timeout_secs: 5,
            require_ssl: false,
            connect_retry_secs: 30,
        }
    }
}

pub use fox_telemetry::LogFormat;

/// Logging settings.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// Output format: `pretty`, `json` or `llm`.
    pub format: LogFormat,
    /// Filter directives, e.g. `info` or `info,fox=debug,sqlx=warn`.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            level: "info,sqlx=warn,tower_http=warn".into(),
        }
    }
}

/// Keys protecting forms and sessions, and account-related lifetimes.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySettings {
    /// Key (at least 32 characters) that signs CSRF tokens and session cookies. Required in production; when unset elsewhere a random key is generated at start-up.
    pub session_key: Option<Secret>,
    /// Minutes of inactivity after which a login session ends.
    #[schemars(range(min = 5, max = 43200))]
    pub session_idle_minutes: u64,
    /// Hours for which an emailed set-password or reset link stays usable.
    #[schemars(range(min = 1, max = 720))]
    pub token_ttl_hours: u64,
    /// `FOX_ENV=local` only: the directory where a session key and a license signing key are generated once and reused when they are not configured, so a restart keeps sessions and issued keys valid. Other environments must configure both.
    pub local_keys_dir: String,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            session_key: None,
            session_idle_minutes: 720,
            token_ttl_hours: 48,
            local_keys_dir: "var/keys".into(),
        }
    }
}

/// How email leaves the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EmailTransport {
    /// Write each message as an `.eml` file into `email.file_dir` (development).
    #[default]
    File,
    /// Send through the SMTP relay in `email.smtp`.
    Smtp,
}

/// Outgoing email settings.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EmailSettings {
    /// Transport: `file` (development) or `smtp`.
    pub transport: EmailTransport,
    /// Sender mailbox, e.g. `Fox ML Infrastructure <no-reply@example.com>`.
    pub from: String,
    /// Mailbox that receives new leads from Request Access.
    pub sales_to: String,
    /// Folder for `.eml` files when `transport` is `file`.
    pub file_dir: String,
    /// SMTP relay, used when `transport` is `smtp`.
    pub smtp: SmtpSettings,
    /// Seconds between two scans of the email outbox.
    #[schemars(range(min = 1, max = 3600))]
    pub outbox_poll_secs: u64,
    /// Attempts before an outbox message is given up on (with exponential back-off in between).
    #[schemars(range(min = 1, max = 100))]
    pub max_attempts: u32,
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            transport: EmailTransport::File,
            from: "Fox ML Infrastructure <no-reply@foxml.localhost>".into(),
            sales_to: "sales@foxml.localhost".into(),
            file_dir: "var/mail".into(),
            smtp: SmtpSettings::default(),
            outbox_poll_secs: 2,
            max_attempts: 8,
        }
    }
}

/// TLS mode for SMTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Upgrade a plain connection with STARTTLS (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption (only for a relay on the same host).
    None,
}

/// SMTP relay settings.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    /// Relay host name.
    pub host: String,
    /// Relay port.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// TLS mode: `starttls`, `tls` or `none`.
    pub tls: SmtpTls,
    /// User name for SMTP authentication.
    pub username: Option<String>,
    /// Password for SMTP authentication.
    pub password: Option<Secret>,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 587,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
        }
    }
}

/// A fixed-window limit: at most `max_requests` per client in `window_secs`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitRule {
    /// Requests allowed per window.
    #[schemars(range(min = 1, max = 1000000))]
    pub max_requests: u32,
    /// Window length in seconds.
    #[schemars(range(min = 1, max = 86400))]
    pub window_secs: u64,
}

/// Rate limits.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    /// Request Access submissions per client address.
    pub leads: RateLimitRule,
    /// Failed sign-ins per (client address, account); past it that address gets 429 for that account. Successful sign-ins are not counted. Also password-reset requests per client address.
    pub login: RateLimitRule,
    /// Failed sign-ins per client address, whatever the account.
    pub login_per_ip: RateLimitRule,
    /// Failed sign-ins per account from all addresses; past it every sign-in to that account is slowed down (one second per further failure, at most five), never refused, so nobody can lock its owner out. Also the reset emails sent per account (further requests are answered but send nothing).
    pub login_per_account: RateLimitRule,
    /// License API calls (validate, activate, deactivate) per client address.
    pub license_api_per_ip: RateLimitRule,
    /// License API calls per license key.
    pub license_api_per_key: RateLimitRule,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            leads: RateLimitRule {
                max_requests: 5,
                window_secs: 3600,
            },
            login: RateLimitRule {
                max_requests: 10,
                window_secs: 900,
            },
            login_per_ip: RateLimitRule {
                max_requests: 30,
                window_secs: 900,
            },
            login_per_account: RateLimitRule {
                max_requests: 10,
                window_secs: 900,
            },
            license_api_per_ip: RateLimitRule {
                max_requests: 600,
                window_secs: 60,
            },
            license_api_per_key: RateLimitRule {
                max_requests: 120,
                window_secs: 60,
            },
        }
    }
}

/// Stripe settings. Online checkout is offered only when `secret_key` is set.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct StripeSettings {
    /// Secret API key (`sk_live_…` or `sk_test_…`).
    pub secret_key: Option<Secret>,
    /// Publishable key (`pk_…`), safe to show in pages.
    pub publishable_key: Option<String>,
    /// Webhook signing secret (`whsec_…`) of the endpoint `/webhooks/stripe`.
    pub webhook_secret: Option<Secret>,
    /// Base URL of the Stripe API; only changed to reach a test double.
    pub api_base: Option<String>,
}

/// License key settings.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LicenseSettings {
    /// Ed25519 signing key for license keys, base64 (create one with `fox license keygen`). Required in production; when unset elsewhere a random key is generated at start-up, so keys stop verifying after a restart.
    pub signing_key: Option<Secret>,
    /// Days a subscription license keeps working after a failed renewal payment.
    #[schemars(range(min = 0, max = 90))]
    pub grace_days: u32,
    /// Days of a license issued by sales or the CLI when no length is given.
    #[schemars(range(min = 1, max = 3650))]
    pub default_days: u32,
}

impl Default for LicenseSettings {
    fn default() -> Self {
        Self {
            signing_key: None,
            grace_days: 7,
            default_days: 365,
        }
    }
}

/// The pricing shown on `/pricing`.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PricingSettings {
    /// ISO 4217 currency of every price, lower case (e.g. `usd`).
    pub currency: String,
    /// The tiers, in display order.
    pub tiers: Vec<Tier>,
}

impl Default for PricingSettings {
    fn default() -> Self {
        Self {
            currency: "usd".into(),
            tiers: Vec::new(),
        }
    }
}

/// How a tier is bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Purchase {
    /// Self-serve through Stripe Checkout.
    Checkout,
    /// Granted after a Request Access form (e.g. a free evaluation).
    RequestAccess,
    /// Negotiated and invoiced by sales.
    ContactSales,
}

/// Billing interval of a tier's price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PriceInterval {
    /// Billed monthly (a Stripe subscription).
    Month,
    /// Billed yearly (a Stripe subscription).
    Year,
    /// Paid once (a Stripe one-time payment).
    Once,
    /// Priced per contract.
    Custom,
}

/// Usage limits of a tier; an unset limit means "unlimited / per contract".
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TierLimits {
    /// Jobs that may run at the same time.
    #[schemars(range(min = 1))]
    pub concurrent_jobs: Option<u32>,
    /// Largest dataset per job, in GiB.
    #[schemars(range(min = 1))]
    pub max_dataset_gb: Option<u32>,
    /// Jobs per calendar month.
    #[schemars(range(min = 1))]
    pub jobs_per_month: Option<u32>,
}

/// One pricing tier.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Stable identifier used in URLs and licenses (lower case letters, digits and `-`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// One-line summary shown under the name.
    #[serde(default)]
    pub tagline: String,
    /// Price in the currency's minor unit (cents); unset for custom pricing.
    #[serde(default)]
    pub price_cents: Option<u64>,
    /// Billing interval: `month`, `year`, `once` or `custom`.
    pub interval: PriceInterval,
    /// How the tier is bought: `checkout`, `request_access` or `contact_sales`.
    pub purchase: Purchase,
    /// Stripe Price id (`price_…`) charged by checkout.
    #[serde(default)]
    pub stripe_price_id: Option<String>,
    /// Seats (activated machines) included; unset for per-contract.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub seats: Option<u32>,
    /// Length of a license of this tier in days when it does not follow a subscription (e.g. an evaluation).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub license_days: Option<u32>,
    /// Usage limits.
    #[serde(default)]
    pub limits: TierLimits,
    /// Feature bullets shown on the pricing card.
    #[serde(default)]
    pub features: Vec<String>,
    /// Emphasise this card ("Most popular"); at most one tier.
    #[serde(default)]
    pub highlighted: bool,
}
