//! Push, not poll (issue 26): `serve` consumes a real RabbitMQ (TLS, client certificate,
//! EXTERNAL login, as Fedora's public broker), and a Koji message about a tracked package
//! makes its patch droppable in the IRC channel within seconds, asking Koji about that
//! package alone. A duplicate message does nothing; a message sent while the broker was down
//! reaches us through the datagrepper backfill, once.

use crate::builder::{DistGit, Package};
use crate::httpd::{Reply, Request, Server};
use crate::ircd::{Ngircd, User};
use crate::rabbit::Rabbit;
use crate::util::forkdebt_ok;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BOT: &str = "forkdebt";

fn body(file: &str) -> Value {
    serde_json::from_slice(
        &std::fs::read(crate::util::repo_root().join("tests/data/bus").join(file))
            .expect("recorded body"),
    )
    .expect("json")
}

/// Koji (the latest build of each package, per `latest`; getLatestBuilds asked per package
/// counted in `asked`), Jira (two issues fixed in the builds the messages announce), and
/// datagrepper (whatever `archive` holds, in `v2/search`'s shape).
struct Upstream {
    latest: Arc<Mutex<HashMap<String, (String, String)>>>,
    asked: Arc<Mutex<HashMap<String, u32>>>,
    archive: Arc<Mutex<Vec<Value>>>,
    searches: Arc<Mutex<Vec<String>>>,
}

impl Upstream {
    fn handler(&self) -> crate::httpd::Handler {
        let recorded: Vec<Value> = serde_json::from_slice(
            &std::fs::read(crate::util::repo_root().join(
                "../shared/fixtures/koji/reserialized/listTagged_f29-build_latest_inherit.json",
            ))
            .expect("fixture"),
        )
        .expect("json");
        let (latest, asked, archive, searches) = (
            self.latest.clone(),
            self.asked.clone(),
            self.archive.clone(),
            self.searches.clone(),
        );
        let issue = |key: &str, build: &str| {
            serde_json::json!({"key": key, "fields": {
                "status": {"name": "Closed"}, "resolution": {"name": "Done-Errata"},
                "fixVersions": [], "updated": "2024-02-01T10:00:00.000+0000",
                "customfield_12318450": build}})
        };
        let issues = [
            issue("RHEL-12345", "http-parser-2.9.3-1.fc31"),
            issue("RHEL-23456", "texworks-0.6.3-1.fc29"),
        ];
        Arc::new(move |req: &Request| {
            if req.path == "/rest/api/2/search" {
                return Reply::json(
                    serde_json::to_vec(&serde_json::json!({"issues": issues})).expect("json"),
                );
            }
            if req.path == "/datagrepper/v2/search" {
                searches.lock().expect("lock").push(req.query.clone());
                let all = archive.lock().expect("lock").clone();
                let answer = serde_json::json!({"raw_messages": all, "count": all.len(),
                    "pages": 1, "total": all.len(), "arguments": {"page": 1, "rows_per_page": 100}});
                return Reply::json(serde_json::to_vec(&answer).expect("json"));
            }
            if req.path != "/kojihub" {
                return Reply::status(404, &[], "not found");
            }
            let text = String::from_utf8_lossy(&req.body);
            let results: Vec<Value> = text
                .split("<name>package</name><value><string>")
                .skip(1)
                .map(|rest| {
                    let pkg = rest.split('<').next().unwrap_or_default().to_string();
                    *asked.lock().expect("lock").entry(pkg.clone()).or_default() += 1;
                    let mut found = Vec::new();
                    if let Some((v, r)) = latest.lock().expect("lock").get(&pkg) {
                        let mut b = recorded[0].clone();
                        b["name"] = pkg.clone().into();
                        b["package_name"] = pkg.clone().into();
                        b["version"] = v.clone().into();
                        b["release"] = r.clone().into();
                        b["nvr"] = format!("{pkg}-{v}-{r}").into();
                        found.push(b);
                    }
                    Value::Array(vec![Value::Array(found)])
                })
                .collect();
            crate::basedistro::xmlrpc_reply(&Value::Array(results))
        })
    }

    fn ship(&self, package: &str, version: &str, release: &str) {
        self.latest
            .lock()
            .expect("lock")
            .insert(package.into(), (version.into(), release.into()));
    }

    fn asked(&self, package: &str) -> u32 {
        self.asked
            .lock()
            .expect("lock")
            .get(package)
            .copied()
            .unwrap_or(0)
    }
}

/// Waits until `serve.log` says `what`.
async fn logged(dir: &Path, what: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
        if log.contains(what) {
            return log;
        }
        assert!(Instant::now() < deadline, "`{what}` never logged:\n{log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The channel's lines from the bot within `within`, until one contains `what`.
async fn heard(user: &mut User, what: &str, within: Duration) -> Option<String> {
    let deadline = Instant::now() + within;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let line = user.next(left).await?;
        let text = line.params.last().cloned().unwrap_or_default();
        if line.from == BOT
            && (line.command == "PRIVMSG" || line.command == "NOTICE")
            && text.contains(what)
        {
            return Some(text);
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn a_koji_message_makes_a_patch_droppable_in_the_channel_once_and_backfill_fills_a_gap() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let mut rabbit = tokio::task::spawn_blocking(Rabbit::start)
        .await
        .expect("rabbit");
    let ircd = Ngircd::start();
    let upstream = Upstream {
        latest: Arc::default(),
        asked: Arc::default(),
        archive: Arc::default(),
        searches: Arc::default(),
    };
    upstream.ship("http-parser", "2.9.2", "1.fc31");
    upstream.ship("texworks", "0.6.2", "1.fc29");
    upstream.ship("bash", "5.2", "1.fc31");
    let server = Server::start(upstream.handler()).await;
    let diff = "--- a/src/a.c\n+++ b/src/a.c\n@@ -1 +1 @@\n-a\n+b\n";
    let tree = DistGit::new(&dir)
        .package(
            Package::new("http-parser")
                .version("2.9.2")
                .release("1.hs")
                .commented_patch("Resolves: RHEL-12345", "0001-fix.patch", diff),
        )
        .package(
            Package::new("texworks")
                .version("0.6.2")
                .release("1.hs")
                .commented_patch("Resolves: RHEL-23456", "0001-texworks-fix.patch", diff),
        )
        .package(Package::new("bash").version("5.2").release("1.hs").patch("0001-hs.patch", diff))
        .config(&format!(
            "sync_every_mins = 600\n\
             [[downstream]]\nname = \"hs\"\npaths = [\"distgit\"]\nbase = \"f31\"\n\
             [[distro]]\nname = \"f31\"\nkoji_url = \"{url}/kojihub\"\nkoji_tag = \"f31\"\n\
             [sources.jira]\nurl = \"{url}\"\n\
             [chat]\npoll_secs = 1\n\
             [chat.irc]\nserver = \"127.0.0.1\"\nport = {irc}\ntls = false\nnick = \"{BOT}\"\nchannels = [\"#hs\"]\nflood_lines = 200\nflood_window_secs = 1\n\
             [bus]\nenabled = true\nurl = \"{amqp}\"\nca_file = \"{ca}\"\ncert_file = \"{cert}\"\nkey_file = \"{key}\"\n\
             datagrepper_url = \"{url}/datagrepper\"\n",
            url = server.url,
            irc = ircd.port,
            amqp = rabbit.url(),
            ca = rabbit.ca().display(),
            cert = rabbit.cert().display(),
            key = rabbit.key().display(),
        ));
    let d = tree.dir.clone();
    // The baseline: nothing shipped has the fixes yet.
    tokio::task::spawn_blocking(move || {
        forkdebt_ok(&d, &["--config", "forkdebt.toml", "scan"]);
        forkdebt_ok(
            &d,
            &[
                "--config",
                "forkdebt.toml",
                "sync",
                "--source",
                "jira",
                "--source",
                "koji",
            ],
        );
    })
    .await
    .expect("baseline");
    assert_eq!(upstream.asked("http-parser"), 1);

    let _serve = crate::irc::serve(&dir);
    let mut user = User::connect(ircd.port, "maintainer").await;
    crate::irc::join_with_bot(&mut user).await;
    logged(&dir, "bus fedora: listening", Duration::from_secs(20)).await;

    // Koji tags http-parser 2.9.3 (the recorded message); Koji answers so from now on.
    upstream.ship("http-parser", "2.9.3", "1.fc31");
    let publisher = rabbit.publisher().await;
    let tag = body("buildsys.tag.json");
    let sent = chrono::Utc::now();
    let id = "2019-7b7e9c7a-0a55-4bd0-9aa3-2f5bdb1d0a41";
    let asked_before = upstream.asked("bash");
    publisher
        .publish(
            id,
            "org.fedoraproject.prod.buildsys.tag",
            &sent.to_rfc3339(),
            &tag,
        )
        .await;
    let started = Instant::now();
    let notice = heard(&mut user, "http-parser", Duration::from_secs(10)).await;
    let took = started.elapsed();
    let notice = notice.unwrap_or_else(|| {
        let report = forkdebt_ok(
            &dir,
            &["--config", "forkdebt.toml", "report", "--format", "json"],
        );
        panic!(
            "no notice within 10 s:\n{}\n{report}",
            std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
        )
    });
    assert!(
        notice.contains("0001-fix.patch") && notice.contains("-> droppable"),
        "{notice}"
    );
    eprintln!("bus message to channel notice: {took:?}");
    // Koji was asked about http-parser alone, once more.
    assert_eq!(upstream.asked("http-parser"), 2);
    assert_eq!(upstream.asked("bash"), asked_before);
    assert_eq!(upstream.asked("texworks"), 1);

    // The same message again (a redelivery): nothing is asked, nothing said.
    publisher
        .publish(
            id,
            "org.fedoraproject.prod.buildsys.tag",
            &sent.to_rfc3339(),
            &tag,
        )
        .await;
    // A message about nothing tracked costs nothing either.
    let mut other = tag.clone();
    other["name"] = "kernel".into();
    publisher
        .publish(
            "2019-other",
            "org.fedoraproject.prod.buildsys.tag",
            &sent.to_rfc3339(),
            &other,
        )
        .await;
    assert!(
        heard(&mut user, "droppable", Duration::from_secs(4))
            .await
            .is_none()
    );
    assert_eq!(upstream.asked("http-parser"), 2);
    assert_eq!(upstream.asked("kernel"), 0);
    drop(publisher);

    // The broker dies. While it is down, Bodhi pushes texworks 0.6.3 stable (the recorded
    // message): only datagrepper has it. The tag message is there too (heard already).
    rabbit.kill();
    upstream.ship("texworks", "0.6.3", "1.fc29");
    let gap_sent = chrono::Utc::now();
    {
        let mut archive = upstream.archive.lock().expect("lock");
        for (id, topic, sent, body) in [
            (id, "org.fedoraproject.prod.buildsys.tag", sent, tag.clone()),
            (
                "2019-5a4f5e0c-1cbe-4d3f-8e21-bd3a8d6c6a51",
                "org.fedoraproject.prod.bodhi.update.complete.stable",
                gap_sent,
                body("bodhi.update.complete.stable.json"),
            ),
        ] {
            archive.push(
                serde_json::json!({"body": body, "headers": {"sent-at": sent.to_rfc3339()},
                "id": id, "priority": 0, "queue": null, "topic": topic}),
            );
        }
    }
    let _rabbit = tokio::task::spawn_blocking(move || {
        rabbit.restart();
        rabbit
    })
    .await
    .expect("restart");
    let notice = heard(&mut user, "texworks", Duration::from_secs(60)).await;
    let notice = notice.unwrap_or_else(|| {
        panic!(
            "the backfill did not bring texworks:\n{}",
            std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
        )
    });
    assert!(notice.contains("-> droppable"), "{notice}");
    // Asked from where we stopped hearing, by topic and by category.
    let searches = upstream.searches.lock().expect("lock").clone();
    assert!(
        searches
            .iter()
            .any(|q| q.contains("topic=org%2Efedoraproject%2Eprod%2Ebuildsys%2Etag"))
            && searches.iter().any(|q| q.contains("category=bodhi"))
            && searches
                .iter()
                .all(|q| q.contains(&format!("start={}", sent.timestamp() - 60))),
        "{searches:#?}"
    );
    // The tag message in the backfill was handled before: http-parser not asked again.
    assert_eq!(upstream.asked("http-parser"), 2);
    assert_eq!(upstream.asked("texworks"), 2);
    assert!(
        heard(&mut user, "http-parser", Duration::from_secs(2))
            .await
            .is_none()
    );

    // `sources` shows the listener.
    let d = dir.clone();
    let sources = tokio::task::spawn_blocking(move || {
        forkdebt_ok(&d, &["--config", "forkdebt.toml", "sources"])
    })
    .await
    .expect("sources");
    assert!(
        sources.contains("bus fedora:") && sources.contains("about something tracked"),
        "{sources}"
    );
}
