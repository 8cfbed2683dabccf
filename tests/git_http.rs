//! Git repositories served over smart HTTP by the real `git http-backend` (CGI), the way a
//! forge serves them, on the tests' local HTTP server.

use crate::httpd::{Handler, Reply, Request};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Serves every repository below `root` (`/NAME.git/...` or `/NAME/...`).
pub fn handler(root: PathBuf) -> Handler {
    std::sync::Arc::new(move |req: &Request| {
        // The test server does not keep the method; git's POSTs always carry a body.
        let method = if req.body.is_empty() { "GET" } else { "POST" };
        let mut cmd = Command::new("git");
        cmd.arg("http-backend")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("GIT_PROJECT_ROOT", &root)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("REQUEST_METHOD", method)
            .env("PATH_INFO", &req.path)
            .env("QUERY_STRING", &req.query)
            .env("REMOTE_ADDR", "127.0.0.1")
            .env("CONTENT_LENGTH", req.body.len().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(t) = req.header("content-type") {
            cmd.env("CONTENT_TYPE", t);
        }
        for (k, v) in &req.headers {
            cmd.env(
                format!("HTTP_{}", k.to_ascii_uppercase().replace('-', "_")),
                v,
            );
        }
        let Ok(mut child) = cmd.spawn() else {
            return Reply::status(500, &[], "git http-backend did not start");
        };
        let body = req.body.clone();
        let mut stdin = child.stdin.take().expect("stdin");
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&body);
        });
        let out = child.wait_with_output().expect("http-backend");
        let _ = writer.join();
        cgi_reply(&out.stdout)
    })
}

/// A CGI response (headers, blank line, body) as a reply.
fn cgi_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((at, sep)) = split else {
        return Reply::status(502, &[], "no CGI headers");
    };
    let head = String::from_utf8_lossy(&raw[..at]);
    let mut status = 200;
    let mut headers = Vec::new();
    for line in head.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim().to_string();
        if k.eq_ignore_ascii_case("status") {
            status = v
                .split_whitespace()
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(200);
        } else {
            headers.push((k.trim().to_string(), v));
        }
    }
    Reply::Send {
        status,
        headers,
        body: raw[at + sep..].to_vec(),
    }
}
