//! The read-only web dashboard (`[web] listen`, served by `serve` or `forkdebt web`): axum,
//! askama templates compiled with the binary (every value HTML-escaped), htmx for the filter
//! (pages work without JavaScript), a strict Content-Security-Policy, no state-changing route.
//!
//! Routes (stable; scripts use them): `/`, `/package/{name}`, `/release/{project}/{version}`,
//! `/changes`, `/feed.atom`, `/api/report`, `/metrics`, `/healthz`; and `POST /hooks/{forge}`
//! (forge webhooks, verified; they only ask for a sync, never change state themselves).

mod cache;
mod chart;
pub mod hooks;
pub mod metrics;
mod pages;
mod server;

pub use server::Limits;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use forkdebt_core::store::Store;
use std::sync::Arc;

/// What every handler reads.
#[derive(Clone)]
pub struct WebState {
    pub store: Store,
    pub metrics: Arc<metrics::Process>,
    overview: Arc<cache::Cache<pages::Frame>>,
    /// The report JSON, shared by every response (never copied per client).
    report: Arc<cache::Cache<Vec<bytes::Bytes>>>,
    /// Large responses (`/api/report`) being sent at once.
    large: Arc<tokio::sync::Semaphore>,
    /// Forge webhooks (`serve` with `[hooks]`).
    hooks: Option<Arc<hooks::Hooks>>,
}

/// `/api/report` responses in flight at once; more wait (up to [`LARGE_WAIT`]) for a place.
pub const LARGE_RESPONSES: usize = 8;
/// How long a large response waits for a place before a 503.
pub const LARGE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl WebState {
    pub fn new(store: Store, metrics: Arc<metrics::Process>) -> WebState {
        WebState {
            store,
            metrics,
            overview: Arc::default(),
            report: Arc::default(),
            large: Arc::new(tokio::sync::Semaphore::new(LARGE_RESPONSES)),
            hooks: None,
        }
    }

    /// Answers `/hooks/{forge}` with `hooks`.
    pub fn with_hooks(mut self, hooks: hooks::Hooks) -> WebState {
        self.hooks = Some(Arc::new(hooks));
        self
    }
}

/// The Content-Security-Policy of every page: our own script and style files only, no inline
/// script, no framing, forms only to ourselves.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const HTMX: &[u8] = include_bytes!("../../static/htmx.min.js");
const STYLE: &[u8] = include_bytes!("../../static/style.css");

/// The dashboard's routes.
pub fn router(state: WebState) -> Router {
    let hook_body = state
        .hooks
        .as_ref()
        .map_or(hooks::MAX_BODY_BYTES, |h| h.max_body);
    Router::new()
        .route(
            "/hooks/{forge}",
            axum::routing::post(hooks::receive)
                .layer(axum::extract::DefaultBodyLimit::max(hook_body)),
        )
        .route("/", get(pages::overview))
        .route("/package/{name}", get(pages::package))
        .route("/release/{project}/{version}", get(pages::release))
        .route("/changes", get(pages::changes))
        .route("/feed.atom", get(pages::feed))
        .route("/api/report", get(pages::api_report))
        .route("/metrics", get(metrics::handler))
        .route("/healthz", get(healthz))
        .route(
            "/static/htmx.min.js",
            get(|| async { asset("text/javascript", HTMX) }),
        )
        .route(
            "/static/style.css",
            get(|| async { asset("text/css", STYLE) }),
        )
        .with_state(state)
        .layer(axum::middleware::map_response(security_headers))
}

fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

async fn healthz(axum::extract::State(s): axum::extract::State<WebState>) -> Response {
    match s.store.ping().await {
        Ok(()) => (axum::http::StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::warn!("healthz: {e}");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "the store is unreachable\n",
            )
                .into_response()
        }
    }
}

/// Serves the dashboard on `listen` until `stopped` turns true, within `limits`.
///
/// # Errors
/// The address cannot be bound.
pub async fn serve(
    listen: &str,
    limits: Limits,
    state: WebState,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("[web] listen = {listen}: {e}"))?;
    tracing::info!("web dashboard on http://{}", listener.local_addr()?);
    server::run(listener, router(state), limits, stopped).await;
    Ok(())
}
