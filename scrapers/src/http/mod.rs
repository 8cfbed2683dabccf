//! The polite HTTP layer every source goes through.
//!
//! - one `reqwest::Client` (connection reuse, gzip, timeouts, a User-Agent with the contact);
//! - per host: a semaphore bounding concurrent requests and a minimum interval between them;
//! - retries with exponential backoff and jitter (`backon`) on 5xx, 429, timeouts and bodies
//!   cut off; `Retry-After` sets the wait, up to [`HttpOptions::max_retry_after`] — a longer one
//!   is not waited out here but recorded, and the host is left alone until then;
//! - conditional requests: the caller passes the stored ETag / Last-Modified, a 304 comes back
//!   as [`Response::NotModified`];
//! - a cap on every body, so a hostile or broken server cannot make us buffer gigabytes.

mod error;
mod transport;

pub use error::HttpError;
pub use transport::{Raw, ReqwestTransport, Transport, client};

/// How much of an error answer a transport keeps.
pub fn transport_snippet_bytes() -> usize {
    transport::ERROR_SNIPPET_BYTES
}

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{HeaderMap, HeaderValue};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Tunables of the HTTP layer; the defaults are what public infrastructure expects of a bot.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub user_agent: String,
    /// Whole-request timeout (connect, send, read the body).
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Requests in flight to one host at a time.
    pub per_host_concurrency: usize,
    /// Minimum time between two requests to one host.
    pub min_interval: Duration,
    /// Retries after the first attempt.
    pub max_retries: usize,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// The longest `Retry-After` waited out within a run.
    pub max_retry_after: Duration,
    /// The longest a host that asked for more is left alone (across runs).
    pub max_wait: Duration,
}

impl HttpOptions {
    /// Defaults with a User-Agent naming forkdebt and the operator's contact.
    pub fn new(contact: Option<&str>) -> HttpOptions {
        HttpOptions {
            user_agent: forkdebt_core::config::user_agent(contact),
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(15),
            per_host_concurrency: 2,
            min_interval: Duration::from_millis(250),
            max_retries: 4,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
            max_wait: Duration::from_secs(24 * 3600),
        }
    }
}

/// One request: a GET, or a read-only POST.
#[derive(Debug, Clone, Default)]
pub struct Get {
    pub url: String,
    /// Extra headers; values may be secrets (they are never logged).
    pub headers: Vec<(&'static str, String)>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The largest body accepted.
    pub max_bytes: usize,
    /// A body to POST instead of a GET: `(content type, bytes)`. Retried like a GET (an
    /// XML-RPC query) unless `send_once` is set.
    pub post: Option<(&'static str, Vec<u8>)>,
    /// A request that changes something upstream (opening a merge request): sent once,
    /// never retried and never redirected, since a second attempt after a lost answer could
    /// do it twice.
    pub send_once: bool,
}

/// What a GET brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Fresh {
        body: Vec<u8>,
        content_type: Option<String>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
    NotModified,
}

/// Requests sent and answers received, for `forkdebt sources` and the benchmark.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub not_modified: AtomicU64,
    pub retries: AtomicU64,
}

struct Host {
    permits: Semaphore,
    next_allowed: tokio::sync::Mutex<Instant>,
}

/// Where a source lives: its origin (scheme, host, port) and base path. Only requests under
/// it go through its transport (and so carry its token): another port of the same host, or
/// another path behind the same proxy, is another service.
struct Route {
    origin: url::Origin,
    /// The base path without its trailing `/` (empty: the whole origin).
    path: String,
    transport: Arc<dyn Transport>,
}

impl Route {
    /// How well `url` falls under this route: the length of the base path it is under.
    fn covers(&self, url: &reqwest::Url) -> Option<usize> {
        if url.origin() != self.origin {
            return None;
        }
        let path = url.path();
        let under = path == self.path
            || path
                .strip_prefix(self.path.as_str())
                .is_some_and(|rest| rest.starts_with('/'));
        under.then_some(self.path.len())
    }
}

/// Redirects followed on one host before giving up.
pub const MAX_REDIRECTS: usize = 5;

/// A cheap handle (an `Arc` inside) shared by every source.
#[derive(Clone)]
pub struct Http {
    transport: Arc<dyn Transport>,
    /// Sources whose requests go through another client (GitHub's through octocrab), with
    /// the same pacing, retries, embargoes and caps as every other host.
    routes: Arc<Mutex<Vec<Route>>>,
    opts: Arc<HttpOptions>,
    hosts: Arc<Mutex<HashMap<String, Arc<Host>>>>,
    /// Hosts that asked for more than `max_retry_after`: not asked again before then.
    embargo: Arc<Mutex<HashMap<String, chrono::DateTime<chrono::Utc>>>>,
    stats: Arc<Stats>,
}

impl Http {
    /// # Errors
    /// The TLS backend or the User-Agent cannot be set up.
    pub fn new(opts: HttpOptions) -> Result<Http, HttpError> {
        let transport = ReqwestTransport::new(&opts)?;
        Ok(Http::with_transport(opts, Arc::new(transport)))
    }

    /// The same politeness over another client (octocrab for GitHub).
    pub fn with_transport(opts: HttpOptions, transport: Arc<dyn Transport>) -> Http {
        Http {
            transport,
            routes: Arc::default(),
            opts: Arc::new(opts),
            hosts: Arc::default(),
            embargo: Arc::default(),
            stats: Arc::default(),
        }
    }

    /// Sends the requests under `base` (an origin and a base path, such as GitHub's API URL)
    /// through `transport` from now on; a second route for the same base replaces the first.
    ///
    /// # Errors
    /// `base` is not an absolute URL.
    pub fn route(&self, base: &str, transport: Arc<dyn Transport>) -> Result<(), HttpError> {
        let url = reqwest::Url::parse(base).map_err(|_| HttpError::InvalidUrl {
            url: base.to_string(),
        })?;
        let route = Route {
            origin: url.origin(),
            path: url.path().trim_end_matches('/').to_string(),
            transport,
        };
        let mut routes = match self.routes.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        routes.retain(|r| r.origin != route.origin || r.path != route.path);
        routes.push(route);
        Ok(())
    }

    /// The transport of the most specific route `url` is under, else the default one.
    fn transport_for(&self, url: &reqwest::Url) -> Arc<dyn Transport> {
        let routes = match self.routes.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        routes
            .iter()
            .filter_map(|r| r.covers(url).map(|len| (len, r)))
            .max_by_key(|(len, _)| *len)
            .map_or_else(|| self.transport.clone(), |(_, r)| r.transport.clone())
    }

    pub fn options(&self) -> &HttpOptions {
        &self.opts
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Hosts that must not be asked before the given time (to persist across restarts).
    pub fn embargoes(&self) -> Vec<(String, chrono::DateTime<chrono::Utc>)> {
        self.embargo
            .lock()
            .map(|m| m.iter().map(|(h, t)| (h.clone(), *t)).collect())
            .unwrap_or_default()
    }

    /// When `host` may next be asked, if it asked us to wait.
    pub fn embargo_of(&self, host: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        self.embargo
            .lock()
            .ok()
            .and_then(|m| m.get(host).copied())
            .filter(|until| *until > chrono::Utc::now())
    }

    /// Restores a stored "not before" time of a host (bounded by `max_wait` from now: a
    /// time stored by an older version, or asked for by a hostile server, is cut short).
    pub fn set_embargo(&self, host: &str, until: chrono::DateTime<chrono::Utc>) {
        let until = until.min(self.latest_embargo());
        if until > chrono::Utc::now()
            && let Ok(mut m) = self.embargo.lock()
        {
            m.insert(host.to_string(), until);
        }
    }

    /// Now plus `max_wait`.
    fn latest_embargo(&self) -> chrono::DateTime<chrono::Utc> {
        let now = chrono::Utc::now();
        chrono::Duration::from_std(self.opts.max_wait)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(now)
    }

    fn host(&self, name: &str) -> Arc<Host> {
        let mut hosts = match self.hosts.lock() {
            Ok(h) => h,
            Err(poisoned) => poisoned.into_inner(),
        };
        hosts
            .entry(name.to_string())
            .or_insert_with(|| {
                Arc::new(Host {
                    permits: Semaphore::new(self.opts.per_host_concurrency.max(1)),
                    next_allowed: tokio::sync::Mutex::new(Instant::now()),
                })
            })
            .clone()
    }

    /// GETs `req.url`, retrying what is worth retrying.
    ///
    /// # Errors
    /// The last attempt's error: a status, a timeout, a body cut off or too large.
    pub async fn get(&self, req: &Get) -> Result<Response, HttpError> {
        self.get_counted(req).await.0
    }

    /// Like [`Http::get`], also saying how many requests it took (for per-source counts;
    /// the shared [`Stats`] mix concurrent requests).
    pub async fn get_counted(&self, req: &Get) -> (Result<Response, HttpError>, u64) {
        let attempts = AtomicU64::new(0);
        let result = self.get_inner(req, &attempts).await;
        (result, attempts.load(Ordering::Relaxed))
    }

    async fn get_inner(&self, req: &Get, attempts: &AtomicU64) -> Result<Response, HttpError> {
        let url = reqwest::Url::parse(&req.url).map_err(|_| HttpError::InvalidUrl {
            url: req.url.clone(),
        })?;
        let host = url.host_str().unwrap_or_default().to_string();
        if let Some(until) = self.embargo.lock().ok().and_then(|m| m.get(&host).copied())
            && until > chrono::Utc::now()
        {
            return Err(HttpError::Embargoed { host, until });
        }
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.opts.backoff_min)
            .with_max_delay(self.opts.backoff_max)
            .with_max_times(self.opts.max_retries)
            .with_jitter();
        let cap = self.opts.max_retry_after;
        let result = (|| {
            attempts.fetch_add(1, Ordering::Relaxed);
            self.attempt(&url, &host, req, attempts)
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|e: &HttpError| {
            !req.send_once && e.retryable() && e.retry_after().is_none_or(|ra| ra <= cap)
        })
        // The server sets the pace: its Retry-After replaces our backoff delay.
        .adjust(|e: &HttpError, delay| delay.map(|d| e.retry_after().unwrap_or(d)))
        .notify(|e: &HttpError, wait| {
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(url = %req.url, error = %e, wait = ?wait, "retrying");
        })
        .await;
        if let Err(e) = &result
            && let Some(ra) = e.retry_after().filter(|ra| *ra > cap)
        {
            // Checked: a Retry-After of 10^12 seconds overflows a date; it is cut to max_wait.
            let until = chrono::Duration::from_std(ra)
                .ok()
                .and_then(|d| chrono::Utc::now().checked_add_signed(d))
                .map_or_else(|| self.latest_embargo(), |t| t.min(self.latest_embargo()));
            tracing::warn!(%host, ?ra, "asked to wait longer than {cap:?}; leaving the host alone until {until}");
            if let Ok(mut m) = self.embargo.lock() {
                m.insert(host, until);
            }
        }
        result
    }

    async fn attempt(
        &self,
        url: &reqwest::Url,
        host_name: &str,
        req: &Get,
        attempts: &AtomicU64,
    ) -> Result<Response, HttpError> {
        let host = self.host(host_name);
        let _permit = host
            .permits
            .acquire()
            .await
            .map_err(|_| HttpError::Closed)?;
        {
            let mut next = host.next_allowed.lock().await;
            let now = Instant::now();
            if *next > now {
                tokio::time::sleep_until(*next).await;
            }
            *next = Instant::now() + self.opts.min_interval;
        }
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let mut headers = HeaderMap::new();
        for (name, value) in &req.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                headers.insert(*name, v);
            }
        }
        if let Some(etag) = req
            .etag
            .as_deref()
            .and_then(|e| HeaderValue::from_str(e).ok())
        {
            headers.insert(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = req
            .last_modified
            .as_deref()
            .and_then(|e| HeaderValue::from_str(e).ok())
        {
            headers.insert(reqwest::header::IF_MODIFIED_SINCE, lm);
        }
        let shown = req.url.clone();
        // Redirects are followed here, not by the client, so that each hop is paced and
        // counted, a loop is named as one, and no hop leaves the host (GitHub answers 301
        // for a renamed repository; a redirect elsewhere is not what we asked).
        let mut target = url.clone();
        let mut hops = 0;
        let raw = loop {
            let raw = self
                .transport_for(&target)
                .send(&target, req, headers.clone())
                .await?;
            if !matches!(raw.status, 301 | 302 | 303 | 307 | 308) {
                break raw;
            }
            let redirect = |message: String| HttpError::Redirect {
                url: req.url.clone(),
                message,
            };
            let next = raw
                .headers
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| target.join(l).ok())
                .ok_or_else(|| redirect("a redirect without a usable Location".into()))?;
            if req.send_once {
                return Err(redirect(format!(
                    "answered with a redirect to {next}; a request that changes something is \
                     not sent again elsewhere"
                )));
            }
            // Same origin only (scheme, host and port): a token or a POST never follows
            // an answer elsewhere, nor from https down to http.
            if next.origin() != target.origin() {
                return Err(redirect(format!(
                    "redirected to another origin ({}); not followed",
                    next.origin().ascii_serialization()
                )));
            }
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(redirect(format!(
                    "more than {MAX_REDIRECTS} redirects (a loop?); not followed further"
                )));
            }
            tokio::time::sleep(self.opts.min_interval).await;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            attempts.fetch_add(1, Ordering::Relaxed);
            target = next;
        };
        let status = raw.status;
        if status == 304 {
            self.stats.not_modified.fetch_add(1, Ordering::Relaxed);
            return Ok(Response::NotModified);
        }
        let header = |name: &str| {
            raw.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let mut retry_after = header("retry-after").and_then(|v| parse_retry_after(&v));
        // GitHub's (and others') rate limit: 403/429 with no requests left until a reset time.
        if (status == 403 || status == 429)
            && header("x-ratelimit-remaining").as_deref() == Some("0")
        {
            let reset = header("x-ratelimit-reset").and_then(|r| r.parse::<i64>().ok());
            retry_after = retry_after.or_else(|| {
                reset.map(|r| {
                    let wait = r.saturating_sub(chrono::Utc::now().timestamp()).max(1);
                    Duration::from_secs(u64::try_from(wait).unwrap_or(1))
                })
            });
        }
        if !(200..300).contains(&status) {
            if let Some(ra) = retry_after {
                // Every request to this host waits, not only this one.
                let mut next = host.next_allowed.lock().await;
                *next = (*next).max(Instant::now() + ra.min(self.opts.max_retry_after));
            }
            // A rate-limit 403 is a 429 in all but name.
            let status = if status == 403 && retry_after.is_some() {
                429
            } else {
                status
            };
            return Err(HttpError::Status {
                url: shown,
                status,
                retry_after,
                // What a server says is shown and stored: its control characters (a
                // terminal's escape sequences) as escapes.
                snippet: forkdebt_core::report::shown(
                    &String::from_utf8_lossy(&raw.body)
                        .trim()
                        .chars()
                        .take(200)
                        .collect::<String>(),
                )
                .into_owned(),
            });
        }
        Ok(Response::Fresh {
            content_type: header("content-type"),
            etag: header("etag"),
            last_modified: header("last-modified"),
            body: raw.body,
        })
    }
}

pub use forkdebt_core::display::path_segment;

/// `Retry-After` is seconds or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v.trim()).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later = (chrono::Utc::now() + chrono::Duration::seconds(120)).to_rfc2822();
        let d = parse_retry_after(&later).expect("date");
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
