//! Notification delivery from the outbox, on both database backends: subscriptions and
//! snoozes filter, the hourly budget collapses a burst into one summary, a failed post is
//! retried, and nothing is posted twice.

use crate::util::postgres_database;
use forkdebt_bot::notify::{Outlet, Round, deliver};
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
    for d in [
        "irc:#all",
        "irc:#systemd",
        "irc:#quiet",
        "irc:#flaky",
        "irc:#crash",
        "matrix:#crash",
        "irc:#two",
    ] {
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
    let round = deliver(&store, "irc:#all", 10, &Outlet::new(&post))
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
        deliver(&store, "irc:#all", 10, &Outlet::new(&post))
            .await
            .expect("again"),
        Round::default()
    );
    assert!(take().is_empty());

    // Subscribed to systemd: its two events, the twelve others filtered out.
    let round = deliver(&store, "irc:#systemd", 10, &Outlet::new(&post))
        .await
        .expect("deliver");
    assert_eq!((round.posted, round.filtered), (2, 12));
    assert!(take().iter().all(|(_, t)| t.contains(" systemd ")));

    // bash snoozed: only systemd's two.
    let round = deliver(&store, "irc:#quiet", 10, &Outlet::new(&post))
        .await
        .expect("deliver");
    assert_eq!((round.posted, round.snoozed), (2, 12));
    take();

    // A network that fails: the row stays pending and goes out on the next round.
    let failing = |_key: String, _text: String| {
        Box::pin(async { Err(anyhow::anyhow!("connection reset")) })
            as futures_util::future::BoxFuture<'_, anyhow::Result<()>>
    };
    let round = deliver(&store, "irc:#flaky", 100, &Outlet::new(&failing))
        .await
        .expect("deliver");
    assert_eq!((round.posted, round.failed), (0, 1));
    assert_eq!(
        store.pending("irc:#flaky").await.expect("pending").len(),
        14
    );
    let round = deliver(&store, "irc:#flaky", 100, &Outlet::new(&post))
        .await
        .expect("deliver");
    assert_eq!(round.posted, 14);
    let keys: std::collections::HashSet<String> = take().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys.len(), 14, "one key per event");

    // A deliverer stopped mid-post: it had claimed the rows and recorded the first as being
    // sent. IRC cannot deduplicate, so that row is not posted again (it most likely arrived)
    // and `status` can show it; Matrix posts it again with the same transaction id.
    for dest in ["irc:#crash", "matrix:#crash"] {
        let claimed = store.claim_pending(dest, 500).await.expect("claim");
        assert_eq!(claimed.len(), 14);
        assert!(claimed.iter().all(|p| !p.interrupted));
        assert!(
            store
                .mark_sending(&claimed[0].key, chrono::Utc::now())
                .await
                .expect("sending")
        );
    }
    let round = deliver(&store, "irc:#crash", 100, &Outlet::new(&post))
        .await
        .expect("deliver");
    assert_eq!((round.posted, round.unconfirmed), (13, 1));
    let first = store.events(None).await.expect("events")[0].clone();
    assert!(
        !take()
            .iter()
            .any(|(_, t)| *t == forkdebt_bot::notify::event_text(&first)),
        "the interrupted post is not repeated on IRC"
    );
    let matrix = Outlet {
        post: &post,
        idempotent: true,
        ready: None,
    };
    let round = deliver(&store, "matrix:#crash", 100, &matrix)
        .await
        .expect("deliver");
    assert_eq!((round.posted, round.unconfirmed), (14, 0));
    assert_eq!(take().len(), 14);
    let unconfirmed: Vec<_> = store
        .delivery_counts()
        .await
        .expect("counts")
        .into_iter()
        .filter(|(_, o, _)| o == "unconfirmed")
        .collect();
    assert_eq!(
        unconfirmed,
        vec![("irc:#crash".to_string(), "unconfirmed".to_string(), 1)]
    );

    claims_and_fences(&store, &post, &take).await;
    store.close().await;
}

/// Two instances on one store: a row claimed by one is not delivered by the other, the
/// holder of a lost lease cannot write, and its claims lapse for the next holder.
async fn claims_and_fences<'a>(
    store: &Store,
    post: &'a forkdebt_bot::notify::Post<'a>,
    take: &dyn Fn() -> Vec<(String, String)>,
) {
    use forkdebt_core::store::{Fence, StoreError};
    use std::sync::Arc;
    let ttl_ms = 300;
    let a = Arc::new(Fence::new("network:irc", "a", ttl_ms));
    let b = Arc::new(Fence::new("network:irc", "b", ttl_ms));
    let (store_a, store_b) = (store.fenced(Arc::clone(&a)), store.fenced(Arc::clone(&b)));
    a.set(
        store
            .take_lease("network:irc", "a", ttl_ms)
            .await
            .expect("lease")
            .expect("free"),
    );
    assert_eq!(
        store
            .take_lease("network:irc", "b", ttl_ms)
            .await
            .expect("lease"),
        None,
        "held by a"
    );
    // b holds nothing: its writes are refused, and say why.
    let refused = store_b.claim_pending("irc:#two", 500).await;
    assert!(
        matches!(&refused, Err(StoreError::Fenced(l)) if l == "network:irc"),
        "{refused:?}"
    );
    let claimed = store_a.claim_pending("irc:#two", 5).await.expect("claim");
    assert_eq!(claimed.len(), 5, "a batch of five");
    // Let a's lease lapse (a paused instance): b takes over with a higher fence.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let fence_b = store
        .take_lease("network:irc", "b", ttl_ms)
        .await
        .expect("lease")
        .expect("expired, so b gets it");
    assert!(fence_b > a.current());
    b.set(fence_b);
    // a wakes up: whatever it tries to write is refused, nothing is recorded.
    let late = store_a
        .mark_delivered(
            &claimed[0].key,
            forkdebt_core::store::Delivery::Posted,
            chrono::Utc::now(),
        )
        .await;
    assert!(matches!(late, Err(StoreError::Fenced(_))), "{late:?}");
    assert_eq!(store.pending("irc:#two").await.expect("pending").len(), 14);
    // a's claims lapsed with its lease: b delivers all fourteen, once.
    let round = deliver(&store_b, "irc:#two", 100, &Outlet::new(post))
        .await
        .expect("deliver");
    assert_eq!(round.posted, 14);
    assert_eq!(take().len(), 14);
    assert!(store.pending("irc:#two").await.expect("pending").is_empty());

    // Scheduled runs: once per interval whoever asks.
    assert!(store_b.start_run("sync", 60_000).await.expect("run"));
    assert!(!store_b.start_run("sync", 60_000).await.expect("run"));
    assert!(!store.start_run("sync", 60_000).await.expect("run"));
    assert!(store.start_run("sync", 0).await.expect("run"));
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
