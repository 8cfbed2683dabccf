//! URLs as logs show them: passwords and tokens replaced by `***`.

/// Whether a query parameter named `key` holds a secret, read as a server reads it
/// (percent-decoded: `pass%77ord` is `password`).
fn is_secret_key(key: &str) -> bool {
    let decoded: String = url::form_urlencoded::parse(format!("{key}=").as_bytes())
        .next()
        .map(|(k, _)| k.to_ascii_lowercase())
        .unwrap_or_default();
    ["pass", "pwd", "secret", "token", "key"]
        .iter()
        .any(|w| decoded.contains(w))
}

/// A database URL for logs: the password replaced by `***`, in the user part and in the
/// query string (`?password=...`, `sslpassword=...`, percent-encoded names too).
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
                None => base.to_string(),
            },
            None => base.to_string(),
        },
        None => base.to_string(),
    };
    if let Some(q) = query {
        let pairs: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if is_secret_key(k) => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}
