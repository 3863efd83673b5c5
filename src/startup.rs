//! Builds the application: the router (every route of the site, docs, checkout, webhooks and
//! the API is registered here; the account, research and admin areas keep theirs in
//! `routes::{account, research, admin}::router`, merged here) with the layers around it,
//! and the server's lifecycle.

use crate::config::LoadedConfig;
use crate::email::{Mailer, outbox};
use crate::jobs::events::EventHub;
use crate::jobs::worker::WorkerContext;
use crate::middleware::{
    close_when_draining, panic_response, record_route, render_error_pages, track_request,
};
use crate::routes::{self, api, checkout, health, request_access, static_files, webhooks};
use crate::security::csrf::Csrf;
use crate::security::headers::security_headers;
use crate::security::rate_limit::Limiters;
use crate::security::{TrustedProxies, local_keys};
use crate::state::{AppState, Inner};
use crate::storage::Store;
use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use axum::routing::post;
use rand::RngCore;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

/// The router with all routes and layers.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The router plus `extra` routes under the same layers (tests add failing routes this way).
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    let s = &state.settings.server;
    let routes = extra
        .merge(routes::account::router())
        .merge(routes::research::router())
        .merge(routes::admin::router())
        .route("/", get(routes::show_home))
        .route("/pricing", get(routes::show_pricing))
        .route(
            "/request-access",
            get(request_access::show_request_access).post(request_access::create_lead),
        )
        .route("/docs", get(routes::list_docs))
        .route("/docs/{slug}", get(routes::show_doc))
        .route("/static/{name}", get(static_files::serve_static))
        .route("/favicon.ico", get(static_files::favicon))
        .route("/robots.txt", get(static_files::robots))
        .route("/sitemap.xml", get(static_files::sitemap))
        .route("/checkout/{tier}", post(checkout::create_checkout))
        .route("/checkout/success", get(checkout::show_checkout_success))
        .route("/webhooks/stripe", post(webhooks::receive_stripe_event))
        .route(
            "/.well-known/fox-license-key",
            get(static_files::license_public_key),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    let api = api::openapi::api_routes();
    // The site's body limit and timeout apply to everything but the dataset upload, which
    // streams and enforces the license's own limit.
    let limited = routes
        .merge(api.rest)
        .merge(routes::mcp::router(&state))
        .layer(RequestBodyLimitLayer::new(s.body_limit_bytes as usize))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(s.request_timeout_secs),
        ));
    let upload = api
        .upload
        .merge(routes::research::upload_router())
        .layer(DefaultBodyLimit::disable());

    let mut app = limited
        .merge(upload)
        .route_layer(axum::middleware::from_fn(record_route))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            render_error_pages,
        ))
        .layer(CompressionLayer::new());
    // A Stripe test double (stripe.api_base) serves its hosted pages from its own origin.
    let stripe_double = state
        .settings
        .stripe
        .api_base
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization());
    for (name, value) in
        security_headers(state.environment.is_production(), stripe_double.as_deref())
    {
        app = app.layer(SetResponseHeaderLayer::if_not_present(name, value));
    }
    // Login sessions live in PostgreSQL; the cookie only carries a random session id.
    let sessions = SessionManagerLayer::new(PostgresStore::new(state.db.clone()))
        .with_name(crate::security::csrf::session_cookie_name(
            state.environment.is_production(),
        ))
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.environment.is_production())
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(
            state.settings.security.session_idle_minutes as i64,
        )));
    app.layer(sessions)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            close_when_draining,
        ))
        .layer(axum::middleware::from_fn(track_request))
        .with_state(state)
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    router: Router,
    pub state: AppState,
    drain: Duration,
    grace: Duration,
    /// The embedded worker (`worker.embedded_slots` > 0): its stop switch and task.
    worker: Option<(watch::Sender<bool>, tokio::task::JoinHandle<()>)>,
}

impl Application {
    /// Migrates the database, prepares the site, starts the outbox worker and binds the
    /// port (port 0 picks a free one, as tests do).
    pub async fn build(config: LoadedConfig) -> anyhow::Result<Self> {
        let settings = config.settings;
        let db = crate::db::migrate(&settings.database).await?;
        let session_store = PostgresStore::new(db.clone());
        session_store
            .migrate()
            .await
            .context("creating the session table")?;
        tokio::spawn(
            tower_sessions::session_store::ExpiredDeletion::continuously_delete_expired(
                session_store,
                Duration::from_secs(300),
            ),
        );
        let site = crate::site::Site::load(&settings)?;
        let mailer = Arc::new(Mailer::from_settings(&settings.email)?);
        let key = match local_keys::session_key(&settings, &config.environment)? {
            Some(k) => k,
            None => {
                tracing::warn!(
                    "security.session_key is not set; using a random key (forms break across restarts)"
                );
                let mut k = vec![0u8; 32];
                rand::rng().fill_bytes(&mut k);
                k
            }
        };
        let production = config.environment.is_production();
        let outbox_wake = Arc::new(Notify::new());
        tokio::spawn(outbox::run(
            db.clone(),
            mailer.clone(),
            settings.email.max_attempts,
            Duration::from_secs(settings.email.outbox_poll_secs),
            outbox_wake.clone(),
        ));
        tokio::spawn(crate::commerce::expiry::run(
            db.clone(),
            Duration::from_secs(300),
            outbox_wake.clone(),
        ));
        let addr = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let grace = Duration::from_secs(settings.server.shutdown_grace_secs);
        let drain = Duration::from_secs(settings.server.shutdown_drain_secs);
        let signer = crate::license::Signer::new(
            match local_keys::license_signing_key(&settings, &config.environment)? {
                Some(k) => k,
                None => {
                    tracing::warn!(
                        "license.signing_key is not set; using a random key (issued keys stop verifying after a restart)"
                    );
                    crate::license::SigningKey::generate()
                }
            },
        );
        let stripe = crate::commerce::stripe_api::client(&settings.stripe)?;
        let pages = crate::site::render::Prerendered::build(
            &site,
            &settings,
            &signer.public_key().to_base64(),
        )
        .context("rendering the site's pages")?;
        // A short TTL only backs up the change notifications (see license::cache).
        let license_cache = Arc::new(crate::license::cache::LicenseCache::new(
            Duration::from_secs(30),
        ));
        tokio::spawn(crate::license::cache::listen(
            db.clone(),
            license_cache.clone(),
        ));
        let store = Store::from_settings(&settings.storage)?;
        let job_events = EventHub::new();
        tokio::spawn(job_events.clone().listen(db.clone()));
        tokio::spawn(crate::jobs::queue::housekeeping(
            db.clone(),
            store.clone(),
            Duration::from_secs(settings.worker.poll_secs),
        ));
        let openapi = serde_json::to_value(api::openapi::api_routes().openapi)
            .context("building the OpenAPI document")?;
        let worker = if settings.worker.embedded_slots > 0 {
            let ctx = WorkerContext::new(db.clone(), store.clone(), Arc::new(settings.clone()))?;
            let (stop, stopped) = watch::channel(false);
            let slots = settings.worker.embedded_slots;
            Some((
                stop,
                tokio::spawn(crate::jobs::worker::run(ctx, slots, stopped)),
            ))
        } else {
            None
        };
        let limits = Arc::new(Limiters::new(&settings.rate_limit));
        tokio::spawn(crate::security::rate_limit::report_refusals(
            limits.clone(),
            Duration::from_secs(60),
        ));
        let state = AppState::new(Inner {
            license_cache,
            db,
            limits: limits.clone(),
            trusted_proxies: TrustedProxies::new(&settings.server.trusted_proxies),
            draining: AtomicBool::new(false),
            signer,
            stripe,
            csrf: Csrf::new(&key, production),
            environment: config.environment,
            site,
            pages,
            mailer,
            outbox_wake,
            store,
            job_events,
            uploads: Default::default(),
            openapi: Arc::new(openapi),
            settings,
        });
        Ok(Self {
            listener,
            router: router(state.clone()),
            state,
            drain,
            grace,
            worker,
        })
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// The address the listener is bound to (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Serves until `shutdown` completes; then drains (`/readyz` answers 503 and responses
    /// close their connections, while everything is still served) for the drain delay, stops
    /// accepting connections and lets in-flight requests finish within the grace period.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let grace = self.grace;
        let drain = self.drain;
        let state = self.state.clone();
        let (stop_worker, worker) = self.worker.unzip();
        let signal = async move {
            shutdown.await;
            state
                .draining
                .store(true, std::sync::atomic::Ordering::Relaxed);
            // The embedded worker stops claiming; its running jobs go back to the queue.
            if let Some(stop) = &stop_worker {
                let _ = stop.send(true);
            }
            if !drain.is_zero() {
                tracing::info!(
                    drain_secs = drain.as_secs(),
                    "shutting down: not ready any more, still serving"
                );
                tokio::time::sleep(drain).await;
            }
            tracing::info!(
                grace_secs = grace.as_secs(),
                "shutting down: draining in-flight requests"
            );
            let _ = tx.send(());
        };
        let serve = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(signal);
        let deadline = async move {
            let _ = rx.await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            r = serve => r.context("server error")?,
            _ = deadline => tracing::warn!("grace period over; closing remaining connections"),
        }
        if let Some(w) = worker {
            let _ = tokio::time::timeout(Duration::from_secs(30), w).await;
        }
        Ok(())
    }
}

/// `fox worker`: `slots` job slots (default `worker.slots`) until `shutdown`; running jobs
/// then go back to the queue.
pub async fn run_worker(
    config: LoadedConfig,
    slots: Option<u32>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let settings = config.settings;
    let db = crate::db::migrate(&settings.database).await?;
    let store = Store::from_settings(&settings.storage)?;
    tokio::spawn(crate::jobs::queue::housekeeping(
        db.clone(),
        store.clone(),
        Duration::from_secs(settings.worker.poll_secs),
    ));
    let slots = slots.unwrap_or(settings.worker.slots).max(1);
    let ctx = WorkerContext::new(db, store, Arc::new(settings))?;
    let (stop, stopped) = watch::channel(false);
    let worker = tokio::spawn(crate::jobs::worker::run(ctx, slots, stopped));
    shutdown.await;
    tracing::info!("worker shutting down: running jobs go back to the queue");
    let _ = stop.send(true);
    let _ = worker.await;
    Ok(())
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
