//! The backfill: datagrepper's `v2/search`, by topic (or, for a wildcard binding, by the
//! category its topics share, filtered here) and time, oldest first, a page of 100 at a
//! time through the polite HTTP layer.

use super::message::Message;
use super::topic_matches;
use crate::http::{Get, Http, Response};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Pages read at most per binding (20,000 messages): a longer gap is the periodic sync's.
const MAX_PAGES: u64 = 200;
const MAX_BODY_BYTES: usize = 32 << 20;

/// The query that selects `pattern`'s messages: `topic=` for a plain topic, `category=` for
/// a wildcard one (`org.fedoraproject.prod.bodhi.update.#` → `bodhi`).
fn selector(pattern: &str) -> (&'static str, String) {
    if !pattern.contains(['*', '#']) {
        return ("topic", pattern.to_string());
    }
    let category = pattern.split('.').nth(3).unwrap_or_default();
    ("category", category.to_string())
}

/// Every message of `pattern` sent since `since`, oldest first.
///
/// # Errors
/// A request that failed or an answer that is not datagrepper's, with the URL.
pub async fn messages_since(
    http: &Http,
    base: &str,
    pattern: &str,
    since: DateTime<Utc>,
) -> Result<Vec<Message>, String> {
    let (key, value) = selector(pattern);
    let mut out = Vec::new();
    let mut page = 1u64;
    loop {
        let url = format!(
            "{base}/v2/search?{key}={}&start={}&order=asc&rows_per_page=100&page={page}",
            percent_encoding::utf8_percent_encode(&value, percent_encoding::NON_ALPHANUMERIC),
            since.timestamp()
        );
        let get = Get {
            url: url.clone(),
            max_bytes: MAX_BODY_BYTES,
            ..Get::default()
        };
        let body = match http.get(&get).await.map_err(|e| e.to_string())? {
            Response::Fresh { body, .. } => body,
            Response::NotModified => return Err(format!("{url}: 304 without a validator")),
        };
        let v: Value = crate::sources::json(&url, &body).map_err(|e| e.to_string())?;
        let Some(raw) = v.get("raw_messages").and_then(Value::as_array) else {
            return Err(format!("{url}: no raw_messages in the answer"));
        };
        out.extend(
            raw.iter()
                .filter_map(Message::from_datagrepper)
                .filter(|m| topic_matches(pattern, &m.topic)),
        );
        let pages = v.get("pages").and_then(Value::as_u64).unwrap_or(1);
        if page >= pages || page >= MAX_PAGES {
            return Ok(out);
        }
        page += 1;
    }
}
