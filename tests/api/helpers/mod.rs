//! `spawn_app()`: the real application on a fresh PostgreSQL database and a free port.
#![allow(dead_code)]

use fox::config::{self, Environment, LoadedConfig, Secret, Settings};
use fox::startup::Application;
use sqlx::PgPool;
use std::path::PathBuf;
use std::time::Duration;

pub const SESSION_KEY: &str = "test-session-key-0123456789abcdef0123456789";

pub struct TestApp {
    pub address: String,
    pub db: PgPool,
    pub mail_dir: PathBuf,
    pub client: reqwest::Client,
    pub settings: Settings,
    pub state: fox::state::AppState,
}

/// The repository's own configuration (base + local), as the server would load it.
pub fn base_settings() -> Settings {
    config::load(
        std::path::Path::new("config"),
        &Environment::local(),
        Vec::new(),
    )
    .expect("repository config is valid")
    .settings
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the app after letting the test adjust the settings.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_until(adjust, std::future::pending()).await.0
}

/// The test settings: a fresh database, a free port, a private mail and keys directory.
pub fn test_settings(adjust: impl FnOnce(&mut Settings)) -> Settings {
    let mut settings = base_settings();
    let id = uuid::Uuid::new_v4().simple().to_string();
    settings.database.name = format!("fox_test_{id}");
    settings.server.port = 0;
    settings.email.file_dir = std::env::temp_dir()
        .join(format!("fox-mail-{id}"))
        .display()
        .to_string();
    settings.email.outbox_poll_secs = 1;
    settings.security.session_key = Some(Secret::new(SESSION_KEY));
    let scratch = |what: &str| {
        std::env::temp_dir()
            .join(format!("fox-{what}-{id}"))
            .display()
            .to_string()
    };
    settings.security.local_keys_dir = scratch("keys");
    settings.storage.local_dir = scratch("storage");
    settings.storage.spool_dir = scratch("spool");
    settings.worker.work_dir = scratch("work");
    // Jobs run in the real `fox` binary (the test binary is not one).
    settings.worker.runner = Some(env!("CARGO_BIN_EXE_fox").to_string());
    settings.worker.poll_secs = 1;
    adjust(&mut settings);
    settings
}

/// Starts the app, serving until `shutdown` completes; the handle ends when the server has
/// stopped.
pub async fn spawn_app_until(
    adjust: impl FnOnce(&mut Settings),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> (TestApp, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let settings = test_settings(adjust);
    let mail_dir = PathBuf::from(&settings.email.file_dir);
    let loaded = LoadedConfig {
        settings: settings.clone(),
        environment: Environment::local(),
        sources: vec!["test".into()],
    };
    let app = Application::build(loaded)
        .await
        .expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let db = app.state.db.clone();
    let state = app.state.clone();
    let handle = tokio::spawn(app.run_until(shutdown));
    (
        TestApp {
            address,
            db,
            mail_dir,
            client: client(),
            settings,
            state,
        },
        handle,
    )
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Fetches the form and returns its CSRF token (the cookie lands in the client's jar).
    pub async fn csrf_token(&self) -> String {
        let html = self.get("/request-access").await.text().await.unwrap();
        extract_value(&html, "csrf_token").expect("form has a csrf_token")
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("request sent")
    }

    /// Files written by the email file transport.
    pub fn emails(&self) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(&self.mail_dir) else {
            return Vec::new();
        };
        let mut v: Vec<String> = dir
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .collect();
        v.sort();
        v
    }

    /// Waits (up to 10 s) until `n` emails were written.
    pub async fn wait_for_emails(&self, n: usize) -> Vec<String> {
        for _ in 0..100 {
            let e = self.emails();
            if e.len() >= n {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "expected {n} emails in {}, found {}",
            self.mail_dir.display(),
            self.emails().len()
        );
    }
}

/// The `value="…"` of the input named `name` in `html`.
pub fn extract_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.find("value=\"")? + 7;
    Some(tag[v..v + tag[v..].find('"')?].to_string())
}

/// A valid Request Access submission.
pub fn valid_lead(token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("csrf_token", token.to_string()),
        ("name", "Ada Lovelace".into()),
        ("email", "ada@analytical.example".into()),
        ("company", "Analytical Engines Ltd".into()),
        ("role", "Head of research".into()),
        ("team_size", "2-5".into()),
        (
            "use_case",
            "Rank 40 candidate targets on 5-minute bars".into(),
        ),
        ("tier", "desk".into()),
        ("website", String::new()),
    ]
}

pub fn as_pairs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, s)| (*k, s.as_str())).collect()
}

/// Sends a request line exactly as given (no client-side path normalisation) and returns
/// the status code and body.
pub async fn raw_get(address: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = address.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

pub mod fake_stripe;

/// The app wired to a fake Stripe (checkout on, webhooks verified with the fake's secret).
pub async fn spawn_app_with_stripe(
    adjust: impl FnOnce(&mut Settings),
) -> (TestApp, fake_stripe::FakeStripe) {
    let fake = fake_stripe::FakeStripe::start().await;
    let base = fake.base.clone();
    let app = spawn_app_with(move |s| {
        s.stripe.secret_key = Some(Secret::new(fake_stripe::SECRET_KEY));
        s.stripe.webhook_secret = Some(Secret::new(fake_stripe::WEBHOOK_SECRET));
        s.stripe.api_base = Some(base);
        adjust(s);
    })
    .await;
    (app, fake)
}

impl TestApp {
    /// Delivers a webhook body signed with `secret` at `ts` (Unix seconds).
    pub async fn deliver(&self, body: &[u8], secret: &str, ts: i64) -> reqwest::Response {
        let sig = fox::commerce::webhook::sign(body, secret, ts);
        self.client
            .post(self.url("/webhooks/stripe"))
            .header("stripe-signature", sig)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// Delivers a correctly signed webhook now.
    pub async fn deliver_now(&self, body: &[u8]) -> reqwest::Response {
        self.deliver(
            body,
            fake_stripe::WEBHOOK_SECRET,
            time::OffsetDateTime::now_utc().unix_timestamp(),
        )
        .await
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }
}

/// The text of every MIME part of a message, with transfer encodings undone.
pub fn mail_text(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    let mut out = String::new();
    let mut rest = raw.as_str();
    const H: &str = "Content-Transfer-Encoding: ";
    while let Some(i) = rest.find(H) {
        let after = &rest[i + H.len()..];
        let enc = after[..after.find('\n').unwrap()].trim().to_string();
        let body_all = &after[after.find("\n\n").map_or(after.len(), |j| j + 2)..];
        let end = body_all.find("\n--").unwrap_or(body_all.len());
        let body = &body_all[..end];
        out += &match enc.as_str() {
            "base64" => String::from_utf8(
                base64::Engine::decode(
                    &base64::engine::general_purpose::STANDARD,
                    body.replace('\n', ""),
                )
                .unwrap(),
            )
            .unwrap(),
            "quoted-printable" => quoted_printable(body),
            _ => body.to_string(),
        };
        out.push('\n');
        rest = &body_all[end..];
    }
    if out.is_empty() { raw } else { out }
}

fn quoted_printable(s: &str) -> String {
    let s = s.replace("=\n", "");
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let hex = (b[i] == b'=' && i + 2 < b.len())
            .then(|| std::str::from_utf8(&b[i + 1..i + 3]).ok())
            .flatten();
        if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The path and query of the first link to `path` in `text` (links carry the public URL).
pub fn link_to(text: &str, path: &str) -> Option<String> {
    let at = text.find(&format!("{path}?token="))?;
    let end = text[at..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_/?=.".contains(c)))
        .map_or(text.len(), |e| at + e);
    Some(text[at..end].to_string())
}

/// The password of every account the helpers create.
pub const PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    /// The tier with id `id` from the app's settings.
    pub fn tier(&self, id: &str) -> &fox::config::Tier {
        self.settings
            .pricing
            .tiers
            .iter()
            .find(|t| t.id == id)
            .unwrap_or_else(|| panic!("no tier {id}"))
    }

    /// Issues a license of `tier` for `email` (and the customer and account, if new) as
    /// sales would, valid for `days`.
    pub async fn issue_license_for(
        &self,
        email: &str,
        tier: &str,
        days: i64,
    ) -> fox::commerce::issue::Issued {
        use fox::commerce::issue::{self, Origin, Request};
        let email = fox::domain::EmailAddress::parse(email).unwrap();
        let req = Request {
            email: &email,
            name: "Ada Lovelace",
            company: "Analytical Engines",
            tier: self.tier(tier),
            expires_at: time::OffsetDateTime::now_utc() + time::Duration::days(days),
            origin: Origin::new(fox::domain::IssueSource::Sales),
        };
        let mut tx = self.db.begin().await.unwrap();
        let issued = issue::issue(
            &mut tx,
            &self.state.settings,
            &self.state.signer,
            &req,
            &fox::db::audit::Actor::system("test"),
        )
        .await
        .unwrap()
        .expect("a new license");
        tx.commit().await.unwrap();
        self.state.outbox_wake.notify_one();
        issued
    }

    /// [`Self::issue_license_for`] for 30 days.
    pub async fn issue_license(&self, email: &str, tier: &str) -> fox::commerce::issue::Issued {
        self.issue_license_for(email, tier, 30).await
    }

    /// A customer with a Desk license and the password [`PASSWORD`].
    pub async fn customer(&self, email: &str) -> fox::commerce::issue::Issued {
        let issued = self.issue_license(email, "desk").await;
        let hash = fox::auth::password::hash(PASSWORD.into()).await.unwrap();
        let mut conn = self.db.acquire().await.unwrap();
        fox::db::accounts::set_password(&mut conn, issued.user_id, &hash)
            .await
            .unwrap();
        issued
    }

    /// Signs `client` in through the login form; the response to the form post.
    pub async fn login_as(
        &self,
        client: &reqwest::Client,
        email: &str,
        password: &str,
    ) -> reqwest::Response {
        let html = client
            .get(self.url("/account/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = extract_value(&html, "csrf_token").expect("login form has a token");
        client
            .post(self.url("/account/login"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("email", email),
                ("password", password),
                ("next", ""),
            ])
            .send()
            .await
            .unwrap()
    }

    /// An account of `role` with the password [`PASSWORD`] (a customer gets a customer
    /// record, no license), and a client signed in as it.
    pub async fn account(
        &self,
        email: &str,
        role: fox::domain::Role,
    ) -> (uuid::Uuid, reqwest::Client) {
        let email_key = fox::domain::AccountEmail::parse(email).unwrap();
        let hash = fox::auth::password::hash(PASSWORD.into()).await.unwrap();
        let mut conn = self.db.acquire().await.unwrap();
        let customer = match role {
            fox::domain::Role::Customer => Some(
                fox::db::customers::upsert_customer(&mut conn, &email_key, "", "", None)
                    .await
                    .unwrap(),
            ),
            _ => None,
        };
        let id = fox::db::accounts::create_user(&mut conn, &email_key, role, &hash, customer)
            .await
            .unwrap()
            .expect("a new account");
        let c = client();
        let res = self.login_as(&c, email, PASSWORD).await;
        assert_eq!(res.status(), 303, "{email} signs in");
        (id, c)
    }

    /// A signed-in sales account.
    pub async fn sales(&self, email: &str) -> (uuid::Uuid, reqwest::Client) {
        self.account(email, fox::domain::Role::Sales).await
    }

    /// A signed-in administrator.
    pub async fn admin(&self, email: &str) -> (uuid::Uuid, reqwest::Client) {
        self.account(email, fox::domain::Role::Admin).await
    }
}

/// The `Location` header of a response ("" without one).
pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The value of cookie `name` set by `res`.
pub fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap_or("").to_string())
}

/// A customer with a Desk license and an API token (the token, and the customer).
impl TestApp {
    pub async fn api_customer(&self, email: &str) -> (String, fox::commerce::issue::Issued) {
        let issued = self.customer(email).await;
        let t = fox::db::api_tokens::generate();
        let mut conn = self.db.acquire().await.unwrap();
        fox::db::api_tokens::insert(&mut conn, issued.user_id, "tests", &t)
            .await
            .unwrap();
        (t.token, issued)
    }

    /// A request to the API with a bearer token.
    pub fn api(&self, method: reqwest::Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    /// Uploads `bytes` as `name` (raw body); the response.
    pub async fn upload(&self, token: &str, name: &str, bytes: Vec<u8>) -> reqwest::Response {
        let ct = if name.ends_with(".parquet") {
            "application/vnd.apache.parquet"
        } else {
            "text/csv"
        };
        self.api(
            reqwest::Method::POST,
            &format!("/api/v1/datasets?name={name}"),
            token,
        )
        .header("content-type", ct)
        .body(bytes)
        .send()
        .await
        .unwrap()
    }

    /// Uploads a panel and returns the dataset id.
    pub async fn dataset(&self, token: &str, bytes: Vec<u8>) -> String {
        let res = self.upload(token, "panel.csv", bytes).await;
        assert!(res.status().is_success(), "upload: {}", res.status());
        res.json::<serde_json::Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Submits `experiment` on `dataset`; the response.
    pub async fn submit(
        &self,
        token: &str,
        dataset: &str,
        experiment: serde_json::Value,
    ) -> reqwest::Response {
        self.api(reqwest::Method::POST, "/api/v1/jobs", token)
            .json(&serde_json::json!({"dataset_id": dataset, "experiment": experiment}))
            .send()
            .await
            .unwrap()
    }

    /// The job, as the API shows it.
    pub async fn job(&self, token: &str, id: &str) -> serde_json::Value {
        let res = self
            .api(reqwest::Method::GET, &format!("/api/v1/jobs/{id}"), token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// Waits (up to `secs`) until the job is in one of `states`; returns it.
    pub async fn wait_for_job(
        &self,
        token: &str,
        id: &str,
        states: &[&str],
        secs: u64,
    ) -> serde_json::Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let j = self.job(token, id).await;
            if states.iter().any(|s| j["state"] == *s) {
                return j;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "job {id} never reached {states:?}: {j}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A synthetic panel (the engine's generator, leaks planted) as CSV bytes.
pub fn panel_csv(entities: usize, timestamps: usize, seed: u64) -> Vec<u8> {
    let p = fox_engine::synth::generate(&fox_engine::synth::SynthParams {
        n_entities: entities,
        n_timestamps: timestamps,
        seed,
        ..Default::default()
    });
    let path = std::env::temp_dir().join(format!("fox-panel-{}.csv", uuid::Uuid::new_v4()));
    fox_engine::synth::write_csv(&p, &path, false).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    bytes
}

/// A quick experiment on the generator's panel (runs in about a second).
pub fn quick_experiment() -> serde_json::Value {
    serde_json::json!({
        "name": "quick",
        "seed": 7,
        "data": {"timestamp_col": "ts", "entity_col": "symbol", "min_cs": 10},
        "targets": {"top_n": 1},
        "features": {"top_m": 5},
        "cv": {"n_splits": 3},
        "models": {"gbdt": {"n_trees": 10, "num_leaves": 7, "learning_rate": 0.1}}
    })
}
