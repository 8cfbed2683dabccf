//! Notification delivery from the outbox, on both database backends: subscriptions and
//! snoozes filter, the hourly budget collapses a burst into one summary, a failed post is
//! retried, and nothing is posted twice.

use crate::util::postgres_database;
use forkdebt_bot::notify::{Round, deliver};
use forkdebt_core::inventory::Inventory;
use forkdebt_core::model::{Confidence, Package, Patch, RefKind, Reference, Role};
use forkdebt_core::store::{ItemOutcome, Store};
use std::sync::Mutex;

fn package(name: &str, prs: std::ops::Range<u32>) -> Package {
    Package {
        name: name.into(),
        spec_path: format!("{name}.spec"),
        version: "1.0".into(),
        release: "1.hs".into(),
        patches: prs
            .map(|n| Patch {
                file: format!("{n}.patch"),
                number: Some(n),
                refs: vec![Reference {
                    kind: RefKind::GithubPr,
                    id: format!("o/r#{n}"),
                    url: None,
                    role: Role::Origin,
                    confidence: Confidence::High,
                    found_in: "t".into(),
                    note: None,
                }],
                ..Patch::default()
            })
            .collect(),
        ..Package::default()
    }
}

fn pr(n: u32, merged: bool) -> (String, ItemOutcome) {
    let v = serde_json::json!({"number": n, "state": if merged { "closed" } else { "open" }, "merged": merged, "merge_commit_sha": merged.then_some("abc1234"), "merged_at": merged.then_some("2024-01-01T00:00:00Z")});
    (
        format!("o/r#{n}"),
        ItemOutcome::Observed {
            data: v.to_string(),
            upstream_changed_at: None,
        },
    )
}

async fn story(url: &str) {
    let store = Store::open(url).await.expect("open");
    for d in ["irc:#all", "irc:#systemd", "irc:#quiet", "irc:#flaky"] {
        store.register_destination(d).await.expect("destination");
    }
    let inv = Inventory {
        packages: vec![package("systemd", 1..3), package("bash", 3..15)],
        ..Inventory::default()
    };
    store
        .apply_inventory("hs", &inv, chrono::Utc::now())
        .await
        .expect("scan");
    let baseline: Vec<_> = (1..15).map(|n| pr(n, false)).collect();
    store
        .record_outcomes(
            forkdebt_core::source::Dataset::Github,
            &baseline,
            chrono::Utc::now(),
        )
        .await
        .expect("baseline");
    store.mark_synced(chrono::Utc::now()).await.expect("synced");
    store
        .subscribe("irc:#systemd", "systemd", "alice")
        .await
        .expect("sub");
    store
        .snooze(
            "irc:#quiet",
            "bash",
            chrono::Utc::now() + chrono::Duration::hours(1),
        )
        .await
        .expect("snooze");
    // Fourteen PRs merge: fourteen events.
    let merged: Vec<_> = (1..15).map(|n| pr(n, true)).collect();
    store
        .record_outcomes(
            forkdebt_core::source::Dataset::Github,
            &merged,
            chrono::Utc::now(),
        )
        .await
        .expect("merged");

    let posted: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
    let post = |key: String, text: String| {
        posted.lock().expect("lock").push((key, text));
        Box::pin(async { Ok(()) }) as futures_util::future::BoxFuture<'_, anyhow::Result<()>>
    };
    let take = || std::mem::take(&mut *posted.lock().expect("lock"));

    // Everything, but 10 posts an hour: 9 events and a summary of the other 5.
    let round = deliver(&store, "irc:#all", 10, &post)
        .await
        .expect("deliver");
    assert_eq!(
        round,
        Round {
            posted: 10,
            collapsed: 5,
            ..Round::default()
        }
    );
    let all = take();
    // (Events of one observation batch come in the backend's order.)
    let n = all[0]
        .1
        .split(".patch")
        .next()
        .and_then(|h| h.rsplit(' ').next())
        .expect("n");
    let package = if n == "1" || n == "2" {
        "systemd"
    } else {
        "bash"
    };
    assert_eq!(
        all[0].1,
        format!("[hs] {package} {n}.patch: submitted -> merged (PR o/r#{n} merged as abc1234)")
    );
    assert!(
        all[9].1.starts_with("... and 5 more changes (")
            && all[9]
                .1
                .ends_with("): too many for one hour here; `forkdebt events` lists them"),
        "{all:?}"
    );
    assert!(all[9].0.ends_with(":summary"));
    // Again: nothing left, nothing doubled, and the budget is spent.
    assert_eq!(
        deliver(&store, "irc:#all", 10, &post).await.expect("again"),
        Round::default()
    );
    assert!(take().is_empty());

    // Subscribed to systemd: its two events, the twelve others filtered out.
    let round = deliver(&store, "irc:#systemd", 10, &post)
        .await
        .expect("deliver");
    assert_eq!((round.posted, round.filtered), (2, 12));
    assert!(take().iter().all(|(_, t)| t.contains(" systemd ")));

    // bash snoozed: only systemd's two.
    let round = deliver(&store, "irc:#quiet", 10, &post)
        .await
        .expect("deliver");
    assert_eq!((round.posted, round.snoozed), (2, 12));
    take();

    // A network that fails: the row stays pending and goes out on the next round.
    let failing = |_key: String, _text: String| {
        Box::pin(async { Err(anyhow::anyhow!("connection reset")) })
            as futures_util::future::BoxFuture<'_, anyhow::Result<()>>
    };
    let round = deliver(&store, "irc:#flaky", 100, &failing)
        .await
        .expect("deliver");
    assert_eq!((round.posted, round.failed), (0, 1));
    assert_eq!(
        store.pending("irc:#flaky").await.expect("pending").len(),
        14
    );
    let round = deliver(&store, "irc:#flaky", 100, &post)
        .await
        .expect("deliver");
    assert_eq!(round.posted, 14);
    let keys: std::collections::HashSet<String> = take().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys.len(), 14, "one key per event");
    store.close().await;
}

#[tokio::test]
async fn delivery_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    story(&format!("sqlite://{}", dir.path().join("n.db").display())).await;
}

#[tokio::test]
async fn delivery_on_postgres() {
    story(&postgres_database().await).await;
}
