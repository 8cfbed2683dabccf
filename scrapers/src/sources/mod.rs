//! One module per upstream source: its typed requests, a parser of its real responses, and
//! its sync step.
//!
//! - [`bugzilla`]: Red Hat Bugzilla REST (batched lookups, incremental by `last_change_time`).
//!
//! Still to come (see the project's issues): GitHub, GitLab, Pagure, the Fedora wiki, Koji
//! and yum repodata.

pub mod bugzilla;

/// A response that is not what the source expected: names the URL and what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("{url}: empty response body")]
    Empty { url: String },
    #[error("{url}: expected JSON, got {what}")]
    NotJson { url: String, what: String },
    #[error("{url}: malformed JSON: {source}")]
    Json {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{url}: the service answered with an error: {message}")]
    Service { url: String, message: String },
}

/// Parses a JSON body, telling an HTML error page or an empty body apart from broken JSON.
pub(crate) fn json<T: serde::de::DeserializeOwned>(
    url: &str,
    body: &[u8],
) -> Result<T, ParseError> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        return Err(ParseError::Empty {
            url: url.to_string(),
        });
    };
    if body[start] == b'<' {
        let head =
            String::from_utf8_lossy(&body[start..body.len().min(start + 200)]).to_lowercase();
        let what = if head.contains("<html") || head.contains("<!doctype html") {
            "an HTML page"
        } else {
            "XML or markup"
        };
        return Err(ParseError::NotJson {
            url: url.to_string(),
            what: what.to_string(),
        });
    }
    serde_json::from_slice(body).map_err(|source| ParseError::Json {
        url: url.to_string(),
        source,
    })
}
