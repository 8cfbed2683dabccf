//! One fedora-messaging message, as the broker delivers it or datagrepper stores it, and
//! what it names among what forkdebt tracks. A message is a hint: it picks the items a
//! focused sync asks about; the source's answer is the fact.

use crate::sources::Focus;
use chrono::{DateTime, Utc};
use forkdebt_core::model::RefKind;
use forkdebt_core::store::{Store, StoreError};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// A message: its id (`msg_id`), topic, when it was sent, and its JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: String,
    pub topic: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub body: Value,
}

impl Message {
    /// A datagrepper entry: v2's fedora-message dict (`id`, `topic`, `body`, `headers`
    /// with `sent-at`) or `/raw`'s (`msg_id`, `topic`, `msg`, `timestamp` in seconds).
    pub fn from_datagrepper(entry: &Value) -> Option<Message> {
        let id = entry
            .get("id")
            .or_else(|| entry.get("msg_id"))
            .and_then(Value::as_str)?;
        let topic = entry.get("topic").and_then(Value::as_str)?;
        let body = entry.get("body").or_else(|| entry.get("msg"))?.clone();
        let sent_at = entry
            .pointer("/headers/sent-at")
            .and_then(Value::as_str)
            .and_then(parse_time)
            .or_else(|| {
                let secs = entry.get("timestamp")?.as_f64()?;
                DateTime::from_timestamp_millis((secs * 1000.0) as i64)
            });
        Some(Message {
            id: id.to_string(),
            topic: topic.to_string(),
            sent_at,
            body,
        })
    }
}

/// `sent-at` as fedora-messaging writes it (ISO 8601 with an offset).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// What forkdebt tracks, as a message can name it: package names, and the ids of the
/// references it follows (forge ids compared in lower case, as the forges do).
#[derive(Debug, Default, Clone)]
pub struct Tracked {
    pub packages: HashSet<String>,
    /// Lower-cased id → the id as stored, per kind.
    items: HashMap<(RefKind, String), String>,
    /// Every Fedora Change followed (a FESCo ticket event may be about any of them).
    changes: Vec<String>,
}

/// The reference kinds a message can be about.
const KINDS: &[RefKind] = &[
    RefKind::GithubPr,
    RefKind::GitlabMr,
    RefKind::PagurePr,
    RefKind::Rhbz,
    RefKind::FedoraChange,
];

impl Tracked {
    /// Reads what is tracked now: every package of every downstream and every followed
    /// reference.
    ///
    /// # Errors
    /// A database error.
    pub async fn load(store: &Store, downstreams: &[String]) -> Result<Tracked, StoreError> {
        let mut t = Tracked::default();
        for ds in downstreams {
            t.packages.extend(store.package_names(ds).await?);
        }
        for kind in KINDS {
            for id in store.reference_ids(*kind).await? {
                if *kind == RefKind::FedoraChange {
                    t.changes.push(id.clone());
                }
                t.add(*kind, &id);
            }
        }
        Ok(t)
    }

    /// Tracks `id` of `kind` (tests and benchmarks build sets by hand).
    pub fn add(&mut self, kind: RefKind, id: &str) {
        if kind == RefKind::FedoraChange && !self.changes.iter().any(|c| c == id) {
            self.changes.push(id.to_string());
        }
        self.items.insert((kind, id.to_lowercase()), id.to_string());
    }

    /// Every Fedora Change followed.
    pub fn changes(&self) -> &[String] {
        &self.changes
    }

    /// The stored id of `id` of `kind`, when tracked.
    pub fn item(&self, kind: RefKind, id: &str) -> Option<&String> {
        self.items.get(&(kind, id.to_lowercase()))
    }
}

/// The topic without its `org.fedoraproject.prod.` (or `org.centos.stg.`, …) prefix.
fn subject(topic: &str) -> &str {
    let mut parts = topic.splitn(4, '.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("org"), Some(_), Some(_), Some(rest)) => rest,
        _ => topic,
    }
}

/// `name-version-release` → `name` (an NVR's name may have dashes; version and release not).
pub fn nvr_name(nvr: &str) -> Option<&str> {
    let mut it = nvr.rsplitn(3, '-');
    let (_, _, name) = (it.next()?, it.next()?, it.next()?);
    (!name.is_empty()).then_some(name)
}

/// The sources that answer for a package named in a message about builds.
const BUILD_SOURCES: &[&str] = &["koji", "downstream-koji", "base-builds"];
const SHIPPED_SOURCES: &[&str] = &["koji", "repodata"];

/// What `msg` names among `tracked`: empty when nothing (the message then costs nothing
/// more).
pub fn focus(msg: &Message, tracked: &Tracked) -> Focus {
    let mut f = Focus::default();
    let body = &msg.body;
    let subject = subject(&msg.topic);
    let mut packages = |names: &mut dyn Iterator<Item = &str>, sources: &[&'static str]| {
        let mut any = false;
        for name in names {
            if tracked.packages.contains(name) {
                f.packages.insert(name.to_string());
                any = true;
            }
        }
        if any {
            f.sources.extend(sources.iter().copied());
        }
    };
    if subject.starts_with("buildsys.tag")
        || subject.starts_with("buildsys.untag")
        || subject == "buildsys.build.state.change"
    {
        // Koji: `name` is the package.
        let name = body.get("name").and_then(Value::as_str);
        packages(&mut name.into_iter(), BUILD_SOURCES);
    } else if subject.starts_with("bodhi.update.") {
        // Bodhi: the update's builds; what ships moves when it goes stable.
        let names: Vec<&str> = body
            .pointer("/update/builds")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|b| b.get("nvr").and_then(Value::as_str))
            .filter_map(nvr_name)
            .collect();
        packages(&mut names.into_iter(), SHIPPED_SOURCES);
    } else if subject == "git.receive" {
        // A dist-git push: that package is read again.
        let repo = body.pointer("/commit/repo").and_then(Value::as_str);
        packages(&mut repo.into_iter(), &["scan"]);
    } else if subject.starts_with("wiki.article.edit") {
        if let Some(title) = body.get("title").and_then(Value::as_str)
            && let Some(page) = title.strip_prefix("Changes/")
            && let Some(id) = tracked.item(RefKind::FedoraChange, &page.replace(' ', "_"))
        {
            f.items.insert(id.clone());
            f.sources.insert("fedora_wiki");
        }
    } else if subject.starts_with("bugzilla.bug.") {
        let id = body
            .pointer("/bug/id")
            .map(|v| v.to_string().trim_matches('"').to_string());
        if let Some(id) = id.and_then(|id| tracked.item(RefKind::Rhbz, &id)) {
            f.items.insert(id.clone());
            f.sources.insert("bugzilla");
        }
    } else if subject.starts_with("pagure.pull-request.") || subject.starts_with("pagure.issue.") {
        let pr = body.get("pullrequest").or_else(|| body.get("issue"));
        let project = body
            .pointer("/project/fullname")
            .or_else(|| pr.and_then(|p| p.pointer("/project/fullname")))
            .and_then(Value::as_str);
        let number = pr.and_then(|p| p.get("id")).and_then(Value::as_u64);
        if project == Some("fesco") {
            // A FESCo ticket: the Changes followed are asked again (one batched wiki query).
            if !tracked.changes.is_empty() {
                f.items.extend(tracked.changes.iter().cloned());
                f.sources.insert("fedora_wiki");
            }
        } else if let (Some(project), Some(n)) = (project, number)
            && let Some(id) = tracked.item(RefKind::PagurePr, &format!("{project}#{n}"))
        {
            f.items.insert(id.clone());
            f.sources.insert("pagure");
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(topic: &str, body: Value) -> Message {
        Message {
            id: "id".into(),
            topic: topic.into(),
            sent_at: None,
            body,
        }
    }

    #[test]
    fn messages_name_only_what_is_tracked() {
        let mut t = Tracked::default();
        t.packages.insert("systemd".into());
        t.add(RefKind::Rhbz, "2100");
        t.add(RefKind::PagurePr, "rpms/systemd#12");
        t.add(RefKind::FedoraChange, "Drop_Foo");
        let tag = msg(
            "org.fedoraproject.prod.buildsys.tag",
            serde_json::json!({"name": "systemd", "tag": "f41-updates"}),
        );
        let f = focus(&tag, &t);
        assert_eq!(f.packages.iter().collect::<Vec<_>>(), ["systemd"]);
        assert!(f.sources.contains("koji") && f.sources.contains("base-builds"));
        let other = msg(
            "org.centos.prod.buildsys.tag",
            serde_json::json!({"name": "bash"}),
        );
        assert!(focus(&other, &t).is_empty());
        let bodhi = msg(
            "org.fedoraproject.prod.bodhi.update.complete.stable",
            serde_json::json!({"update": {"builds": [{"nvr": "systemd-256.1-1.fc41"}, {"nvr": "x-1-1"}]}}),
        );
        assert_eq!(
            focus(&bodhi, &t)
                .sources
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            ["koji", "repodata"]
        );
        let bug = msg(
            "org.fedoraproject.prod.bugzilla.bug.update",
            serde_json::json!({"bug": {"id": 2100}}),
        );
        assert_eq!(focus(&bug, &t).items.iter().collect::<Vec<_>>(), ["2100"]);
        let wiki = msg(
            "org.fedoraproject.prod.wiki.article.edit",
            serde_json::json!({"title": "Changes/Drop Foo"}),
        );
        assert_eq!(
            focus(&wiki, &t).items.iter().collect::<Vec<_>>(),
            ["Drop_Foo"]
        );
        let pr = msg(
            "org.fedoraproject.prod.pagure.pull-request.closed",
            serde_json::json!({"pullrequest": {"id": 12, "project": {"fullname": "RPMS/systemd"}}}),
        );
        assert_eq!(
            focus(&pr, &t).items.iter().collect::<Vec<_>>(),
            ["rpms/systemd#12"]
        );
        // Odd bodies name nothing rather than fail.
        for body in [
            Value::Null,
            serde_json::json!([1, 2]),
            serde_json::json!({"name": 5}),
        ] {
            assert!(focus(&msg("org.fedoraproject.prod.buildsys.tag", body), &t).is_empty());
        }
    }

    #[test]
    fn nvrs_and_datagrepper_entries_read() {
        assert_eq!(
            nvr_name("golang-github-SAP-go-hdb-0.14.1-1.fc29"),
            Some("golang-github-SAP-go-hdb")
        );
        assert_eq!(nvr_name("x-1"), None);
        let v2 = serde_json::json!({"id": "a1", "topic": "t", "body": {"x": 1},
            "headers": {"sent-at": "2024-01-02T03:04:05+00:00"}});
        let m = Message::from_datagrepper(&v2).expect("v2");
        assert_eq!(m.sent_at.map(|t| t.timestamp()), Some(1_704_164_645));
        let raw =
            serde_json::json!({"msg_id": "b2", "topic": "t", "msg": {}, "timestamp": 1361414385.0});
        assert_eq!(
            Message::from_datagrepper(&raw).map(|m| m.id),
            Some("b2".to_string())
        );
        assert!(Message::from_datagrepper(&serde_json::json!({"topic": "t"})).is_none());
    }
}
