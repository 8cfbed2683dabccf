//! A small HTTP/1.1 server on 127.0.0.1 for tests: serves what a handler returns, records
//! every request, and can misbehave on purpose (cut a body short, hang).
//!
//! Hand-written rather than a framework: the faults tests need (a Content-Length that lies,
//! a connection that never answers) are what frameworks are built to prevent.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
    }
}

#[derive(Debug, Clone)]
pub enum Reply {
    Send {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Announces `declared` bytes, sends `body`, closes.
    CutShort { declared: usize, body: Vec<u8> },
    /// Accepts the request and never answers (until `after`).
    Hang(Duration),
    /// 200 with no Content-Length, then `total` bytes of spaces streamed until the client
    /// stops reading (a body without end, as far as a capped reader can tell).
    Stream { total: u64 },
}

impl Reply {
    pub fn json(body: impl Into<Vec<u8>>) -> Reply {
        Reply::Send {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into(),
        }
    }
    pub fn status(status: u16, headers: &[(&str, &str)], body: &str) -> Reply {
        Reply::Send {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }
}

pub type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

pub struct Server {
    pub url: String,
    log: Arc<Mutex<Vec<Request>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Starts the server (tests: a failure to bind fails the test).
    pub async fn start(handler: Handler) -> Server {
        Server::try_start(handler)
            .await
            .expect("bind a local test server")
    }

    /// Starts the server on a free loopback port.
    ///
    /// # Errors
    /// No port can be bound on 127.0.0.1.
    pub async fn try_start(handler: Handler) -> std::io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let log: Arc<Mutex<Vec<Request>>> = Arc::default();
        let task_log = log.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let handler = handler.clone();
                let log = task_log.clone();
                tokio::spawn(async move {
                    // One request per connection (we answer with Connection: close).
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        if buf.len() > 64 * 1024 {
                            return;
                        }
                    }
                    let split = buf
                        .windows(4)
                        .position(|w| w == b"\r\n\r\n")
                        .map_or(buf.len(), |p| p + 4);
                    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
                    let mut body = buf[split..].to_vec();
                    let mut lines = head.split("\r\n");
                    let request_line = lines.next().unwrap_or_default();
                    let method = request_line.split(' ').next().unwrap_or("GET").to_string();
                    let target = request_line.split(' ').nth(1).unwrap_or("/").to_string();
                    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                    let headers = lines
                        .take_while(|l| !l.is_empty())
                        .filter_map(|l| {
                            l.split_once(':')
                                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                        })
                        .collect();
                    let headers: Vec<(String, String)> = headers;
                    let length: usize = headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    while body.len() < length.min(16 * 1024 * 1024) {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => body.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let req = Request {
                        method,
                        path: path.to_string(),
                        query: query.to_string(),
                        headers,
                        body,
                        at: Instant::now(),
                    };
                    log.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(req.clone());
                    match handler(&req) {
                        Reply::Send {
                            status,
                            headers,
                            body,
                        } => {
                            let mut out = format!(
                                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                                body.len()
                            );
                            for (k, v) in headers {
                                out.push_str(&format!("{k}: {v}\r\n"));
                            }
                            out.push_str("\r\n");
                            let _ = sock.write_all(out.as_bytes()).await;
                            let _ = sock.write_all(&body).await;
                        }
                        Reply::CutShort { declared, body } => {
                            let out = format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
                            );
                            let _ = sock.write_all(out.as_bytes()).await;
                            let _ = sock.write_all(&body).await;
                        }
                        Reply::Hang(d) => tokio::time::sleep(d).await,
                        Reply::Stream { total } => {
                            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
                            if sock.write_all(head.as_bytes()).await.is_ok() {
                                let chunk = vec![b' '; 64 * 1024];
                                let mut sent = 0u64;
                                while sent < total {
                                    if sock.write_all(&chunk).await.is_err() {
                                        break;
                                    }
                                    sent += chunk.len() as u64;
                                }
                            }
                        }
                    }
                    let _ = sock.shutdown().await;
                });
            }
        });
        Ok(Server { url, log, task })
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn clear(&self) {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}
