//! HTTP errors: each names the URL, and knows whether it is worth retrying.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot set up the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("invalid URL `{url}`")]
    InvalidUrl { url: String },
    #[error("{url}: HTTP {status}{}", snippet_suffix(.snippet))]
    Status {
        url: String,
        status: u16,
        retry_after: Option<Duration>,
        snippet: String,
    },
    #[error("{url}: timed out")]
    Timeout { url: String },
    #[error("{url}: cannot connect: {source}")]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: the response was cut off: {source}")]
    Body {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: {message}")]
    Transport { url: String, message: String },
    #[error("{url}: {message}")]
    Redirect { url: String, message: String },
    #[error("{url}: the response is larger than {limit} bytes; not read")]
    TooLarge { url: String, limit: usize },
    #[error("{host} asked not to be contacted before {until}")]
    Embargoed {
        host: String,
        until: chrono::DateTime<chrono::Utc>,
    },
    #[error("the HTTP layer was shut down")]
    Closed,
}

fn snippet_suffix(s: &str) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!(": {s}")
    }
}

impl HttpError {
    pub(super) fn from_send(url: &str, e: reqwest::Error) -> HttpError {
        let url = url.to_string();
        if e.is_timeout() {
            HttpError::Timeout { url }
        } else if e.is_connect() {
            HttpError::Connect { url, source: e }
        } else {
            HttpError::Body { url, source: e }
        }
    }

    /// Worth another try: the server is busy or broken for now, or the answer was cut off.
    /// Not: a 4xx (asking again changes nothing), connection refused, a body too large.
    pub fn retryable(&self) -> bool {
        match self {
            HttpError::Status { status, .. } => *status == 429 || *status >= 500,
            HttpError::Timeout { .. } | HttpError::Body { .. } => true,
            HttpError::Transport { message, .. } => message.contains("cut off"),
            _ => false,
        }
    }

    /// The wait the server asked for.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            HttpError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
