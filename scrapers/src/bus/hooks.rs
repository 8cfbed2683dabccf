//! Forge webhooks: each forge's way of proving a call is its own (GitHub's and Forgejo's
//! HMAC-SHA256 of the body, Pagure's likewise, GitLab's shared token), the delivery's id
//! (a replay is recognised by it), and what the event names among what is tracked.

use super::message::Tracked;
use crate::sources::Focus;
use forkdebt_core::model::RefKind;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// A forge that can call `/hooks/{forge}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forge {
    Github,
    Gitlab,
    Forgejo,
    Pagure,
}

impl Forge {
    pub fn parse(s: &str) -> Option<Forge> {
        match s {
            "github" => Some(Forge::Github),
            "gitlab" => Some(Forge::Gitlab),
            "forgejo" => Some(Forge::Forgejo),
            "pagure" => Some(Forge::Pagure),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Forge::Github => "github",
            Forge::Gitlab => "gitlab",
            Forge::Forgejo => "forgejo",
            Forge::Pagure => "pagure",
        }
    }
}

/// A call the forge made: its delivery id and event name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub delivery: String,
    pub event: String,
}

/// Why a call is refused: 401 without a proof, 403 with a wrong one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub why: &'static str,
}

fn hmac_hex_matches(secret: &str, body: &[u8], hex_given: &str) -> bool {
    let Some(given) = decode_hex(hex_given.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    // Compared in constant time.
    mac.verify_slice(&given).is_ok()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 256 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Checks that `forge` sent `body` (with `header` the request's headers, by lower-case
/// name) signed with `secret`; the delivery id and event when it did.
///
/// # Errors
/// [`Refused`]: 401 when the proof is missing, 403 when it is wrong.
pub fn verify(
    forge: Forge,
    secret: &str,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
) -> Result<Verified, Refused> {
    let missing = Refused {
        status: 401,
        why: "no signature",
    };
    let wrong = Refused {
        status: 403,
        why: "the signature does not match",
    };
    let ok = match forge {
        Forge::Github => {
            let sig = header("x-hub-signature-256").ok_or(missing)?;
            sig.strip_prefix("sha256=")
                .is_some_and(|hex| hmac_hex_matches(secret, body, hex))
        }
        Forge::Gitlab => {
            let token = header("x-gitlab-token").ok_or(missing)?;
            bool::from(token.as_bytes().ct_eq(secret.as_bytes()))
        }
        Forge::Forgejo => {
            let sig = header("x-forgejo-signature")
                .or_else(|| header("x-gitea-signature"))
                .ok_or(missing)?;
            hmac_hex_matches(secret, body, &sig)
        }
        Forge::Pagure => {
            let sig = header("x-pagure-signature-256").ok_or(missing)?;
            hmac_hex_matches(secret, body, &sig)
        }
    };
    if !ok {
        return Err(wrong);
    }
    let delivery = match forge {
        Forge::Github => header("x-github-delivery"),
        Forge::Gitlab => header("x-gitlab-event-uuid").or_else(|| header("idempotency-key")),
        Forge::Forgejo => header("x-forgejo-delivery").or_else(|| header("x-gitea-delivery")),
        Forge::Pagure => serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.get("msg_id").and_then(Value::as_str).map(str::to_string)),
    }
    // Without an id of its own, the body's digest stands for the delivery.
    .unwrap_or_else(|| {
        use sha2::Digest;
        format!("{:x}", Sha256::digest(body))
    });
    let event = match forge {
        Forge::Github => header("x-github-event"),
        Forge::Gitlab => header("x-gitlab-event"),
        Forge::Forgejo => header("x-forgejo-event").or_else(|| header("x-gitea-event")),
        Forge::Pagure => header("x-pagure-topic"),
    }
    .unwrap_or_default();
    Ok(Verified { delivery, event })
}

/// What a verified event names among `tracked`.
pub fn focus(forge: Forge, event: &str, body: &Value, tracked: &Tracked) -> Focus {
    let mut f = Focus::default();
    let s = |p: &str| body.pointer(p).and_then(Value::as_str);
    let n = |p: &str| body.pointer(p).and_then(Value::as_u64);
    let mut item = |kind: RefKind, id: String, source: &'static str| {
        if let Some(id) = tracked.item(kind, &id) {
            f.items.insert(id.clone());
            f.sources.insert(source);
        }
    };
    match forge {
        Forge::Github if event == "pull_request" => {
            if let (Some(repo), Some(number)) =
                (s("/repository/full_name"), n("/pull_request/number"))
            {
                item(RefKind::GithubPr, format!("{repo}#{number}"), "github");
            }
        }
        Forge::Gitlab if event == "Merge Request Hook" => {
            if let (Some(project), Some(iid)) = (
                s("/project/path_with_namespace"),
                n("/object_attributes/iid"),
            ) {
                item(RefKind::GitlabMr, format!("{project}!{iid}"), "gitlab");
                // A base distribution's dist-git merge request: its first build too.
                if f.sources.contains("gitlab") {
                    f.sources.insert("base-builds");
                }
            }
        }
        Forge::Pagure
            if event
                .trim_start_matches("pagure.")
                .starts_with("pull-request") =>
        {
            let pr = body.get("msg").and_then(|m| m.get("pullrequest"));
            let project = pr
                .and_then(|p| p.pointer("/project/fullname"))
                .and_then(Value::as_str);
            let number = pr.and_then(|p| p.get("id")).and_then(Value::as_u64);
            if let (Some(project), Some(number)) = (project, number) {
                item(RefKind::PagurePr, format!("{project}#{number}"), "pagure");
            }
        }
        // FESCo's tickets moved to Forgejo: the Changes followed are asked again.
        Forge::Forgejo
            if event.starts_with("issue")
                && s("/repository/name") == Some("fesco")
                && !tracked.changes().is_empty() =>
        {
            f.items.extend(tracked.changes().iter().cloned());
            f.sources.insert("fedora_wiki");
        }
        _ => {}
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(body);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn each_forge_proves_its_calls_its_own_way() {
        let body = br#"{"action":"closed"}"#;
        let good = format!("sha256={}", sign("s3cret", body));
        let gh = headers(&[
            ("x-hub-signature-256", &good),
            ("x-github-delivery", "d-1"),
            ("x-github-event", "pull_request"),
        ]);
        let v = verify(Forge::Github, "s3cret", &gh, body).expect("verified");
        assert_eq!(
            (v.delivery.as_str(), v.event.as_str()),
            ("d-1", "pull_request")
        );
        assert_eq!(
            verify(Forge::Github, "other", &gh, body).map_err(|r| r.status),
            Err(403)
        );
        assert_eq!(
            verify(Forge::Github, "s3cret", &headers(&[]), body).map_err(|r| r.status),
            Err(401)
        );
        // A changed body no longer matches its signature.
        assert!(verify(Forge::Github, "s3cret", &gh, br#"{"action":"opened"}"#).is_err());
        let gl = headers(&[
            ("x-gitlab-token", "s3cret"),
            ("x-gitlab-event", "Merge Request Hook"),
        ]);
        assert!(verify(Forge::Gitlab, "s3cret", &gl, body).is_ok());
        assert!(verify(Forge::Gitlab, "s3cre", &gl, body).is_err());
        let fj = headers(&[("x-forgejo-signature", &sign("k", body))]);
        assert!(verify(Forge::Forgejo, "k", &fj, body).is_ok());
        let odd = headers(&[("x-forgejo-signature", "zz\r\n<script>")]);
        assert_eq!(
            verify(Forge::Forgejo, "k", &odd, body).map_err(|r| r.status),
            Err(403)
        );
    }
}
