//! The dashboard's accept loop: axum's router behind hyper, with the limits a public-facing
//! server needs and `axum::serve` does not offer. A silent or slow client must not hold a
//! socket for ever, nor can a crowd of them take the descriptors the rest of `serve` (syncs,
//! chat, the store) needs:
//!
//! - at most [`Limits::max_connections`] connections; one more takes the place of the oldest
//!   connection that has no request in progress (2,000 sockets that never send a byte cannot
//!   keep `/healthz` from answering), and is closed at once when every place is busy;
//! - a request's head must arrive within [`Limits::header_timeout`] (slowloris; also how long
//!   an idle keep-alive connection stays);
//! - a response must be taken by the client within [`Limits::response_timeout`] (a client
//!   that does not read keeps neither its socket nor the response's memory);
//! - an accept error (no descriptor left) pauses the loop instead of spinning.

use axum::Router;
use axum::body::Body;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};

/// The server's bounds; `[web]` can set each.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub response_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(120),
        }
    }
}

impl Limits {
    /// The limits `[web]` sets, defaults for the rest.
    pub fn from_config(c: Option<&forkdebt_core::config::WebConfig>) -> Limits {
        let d = Limits::default();
        let Some(c) = c else { return d };
        Limits {
            max_connections: c.max_connections.map_or(d.max_connections, |n| n.max(1)),
            header_timeout: c
                .header_timeout_secs
                .map_or(d.header_timeout, |s| Duration::from_secs(s.max(1))),
            response_timeout: c
                .response_timeout_secs
                .map_or(d.response_timeout, |s| Duration::from_secs(s.max(1))),
        }
    }
}

/// One connection, as the accept loop sees it.
struct Conn {
    /// Responses started and not yet sent or dropped.
    active: AtomicUsize,
    /// When the oldest response still in progress started (ms since the server started).
    busy_since_ms: AtomicU64,
    close: Notify,
}

/// The open connections, oldest first (ids grow).
#[derive(Default)]
struct Conns {
    open: Mutex<BTreeMap<u64, Arc<Conn>>>,
}

impl Conns {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Conn>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes room for one more under `max`: the oldest idle connection is told to close.
    /// `false` when every connection has a request in progress.
    fn make_room(&self, max: usize) -> bool {
        let mut open = self.lock();
        if open.len() < max {
            return true;
        }
        let idle = open
            .iter()
            .find(|(_, c)| c.active.load(Ordering::SeqCst) == 0)
            .map(|(id, _)| *id);
        match idle.and_then(|id| open.remove(&id)) {
            Some(c) => {
                c.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Counts a response as in progress from its request until its body is sent or dropped.
struct InProgress {
    conn: Arc<Conn>,
}

impl InProgress {
    fn start(conn: &Arc<Conn>, epoch: Instant) -> InProgress {
        if conn.active.fetch_add(1, Ordering::SeqCst) == 0 {
            let ms = u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
            conn.busy_since_ms.store(ms, Ordering::SeqCst);
        }
        InProgress {
            conn: Arc::clone(conn),
        }
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.conn.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps `G` (a count of responses in progress, a place among the
/// large responses) until the body is sent or dropped.
pub(crate) struct Guarded<G> {
    inner: Body,
    _guard: G,
}

impl<G> Guarded<G> {
    pub(crate) fn new(inner: Body, guard: G) -> Guarded<G> {
        Guarded {
            inner,
            _guard: guard,
        }
    }
}

impl<G: Unpin> http_body::Body for Guarded<G> {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Serves `app` on `listener` until `stopped` turns true.
pub async fn run(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: Limits,
    mut stopped: watch::Receiver<bool>,
) {
    let conns = Arc::new(Conns::default());
    let epoch = Instant::now();
    let mut next_id = 0u64;
    let mut accept_errors_logged = None::<Instant>;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            changed = stopped.changed() => {
                // A dropped sender stops the server too.
                if changed.is_err() || *stopped.borrow() { break } else { continue }
            }
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                // EMFILE and friends: wait for descriptors to come back, say so once a minute.
                if accept_errors_logged.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                    tracing::warn!("web: cannot accept a connection: {e}");
                    accept_errors_logged = Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if !conns.make_room(limits.max_connections) {
            // Every place holds a request in progress: this one is refused, not queued.
            drop(stream);
            continue;
        }
        let id = next_id;
        next_id += 1;
        let conn = Arc::new(Conn {
            active: AtomicUsize::new(0),
            busy_since_ms: AtomicU64::new(0),
            close: Notify::new(),
        });
        conns.lock().insert(id, Arc::clone(&conn));
        let (app, conns, mut stopped) = (app.clone(), Arc::clone(&conns), stopped.clone());
        tokio::spawn(async move {
            serve_connection(stream, app, &conn, limits, epoch, &mut stopped).await;
            conns.lock().remove(&id);
        });
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    app: Router,
    conn: &Arc<Conn>,
    limits: Limits,
    epoch: Instant,
    stopped: &mut watch::Receiver<bool>,
) {
    let tracked = Arc::clone(conn);
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let in_progress = InProgress::start(&tracked, epoch);
        let app = app.clone();
        async move {
            use tower::ServiceExt as _;
            let response = app.oneshot(req.map(Body::new)).await?;
            Ok::<_, std::convert::Infallible>(
                response.map(|inner| Guarded::new(inner, in_progress)),
            )
        }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    tokio::pin!(served);
    let mut check = tokio::time::interval(Duration::from_secs(1));
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stuck = || {
        conn.active.load(Ordering::SeqCst) > 0 && {
            let since = Duration::from_millis(conn.busy_since_ms.load(Ordering::SeqCst));
            epoch.elapsed().saturating_sub(since) > limits.response_timeout
        }
    };
    let mut shutting_down = false;
    loop {
        tokio::select! {
            r = &mut served => {
                if let Err(e) = r {
                    tracing::debug!("web: connection ended: {e}");
                }
                return;
            }
            () = conn.close.notified() => return,
            _ = check.tick() => if stuck() {
                tracing::debug!("web: a client did not take its response within {:?}; closed", limits.response_timeout);
                return;
            },
            _ = stopped.changed(), if !shutting_down => {
                shutting_down = true;
                served.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(active: usize) -> Arc<Conn> {
        Arc::new(Conn {
            active: AtomicUsize::new(active),
            busy_since_ms: AtomicU64::new(0),
            close: Notify::new(),
        })
    }

    #[test]
    fn the_oldest_idle_connection_makes_room() {
        let conns = Conns::default();
        let (busy, idle_old, idle_new) = (conn(1), conn(0), conn(0));
        conns.lock().insert(1, Arc::clone(&busy));
        conns.lock().insert(2, Arc::clone(&idle_old));
        conns.lock().insert(3, Arc::clone(&idle_new));
        assert!(conns.make_room(4), "room left");
        assert_eq!(conns.lock().len(), 3);
        assert!(conns.make_room(3));
        assert!(!conns.lock().contains_key(&2) && conns.lock().contains_key(&1));
        conns.lock().remove(&3);
        assert!(!conns.make_room(1), "only a busy one is left");
    }
}
