//! Every transition, on both database backends: each is written once, with the observation
//! that caused it; the same observations again write nothing; the first sync is silent.

use crate::util::postgres_database;
use forkdebt_core::inventory::Inventory;
use forkdebt_core::model::{Confidence, Package, Patch, RefKind, Reference, Role};
use forkdebt_core::store::{ItemOutcome, Store};

fn r(kind: RefKind, id: &str) -> Reference {
    Reference {
        kind,
        id: id.into(),
        url: None,
        role: Role::Origin,
        confidence: Confidence::High,
        found_in: "t".into(),
        note: None,
    }
}

fn inventory(with_p3: bool) -> Inventory {
    let mut patches = vec![
        Patch {
            file: "p1.patch".into(),
            number: Some(1),
            refs: vec![r(RefKind::GithubPr, "o/r#1")],
            ..Patch::default()
        },
        Patch {
            file: "p2.patch".into(),
            number: Some(2),
            refs: vec![r(RefKind::GithubPr, "o/r#2")],
            ..Patch::default()
        },
    ];
    if with_p3 {
        patches.push(Patch {
            file: "p3.patch".into(),
            number: Some(3),
            refs: vec![r(RefKind::Rhbz, "2100001")],
            ..Patch::default()
        });
    }
    Inventory {
        packages: vec![Package {
            name: "demo".into(),
            spec_path: "demo.spec".into(),
            version: "1.0".into(),
            release: "1.hs".into(),
            patches,
            ..Package::default()
        }],
        ..Inventory::default()
    }
}

fn pr(state: &str, merged: bool, sha: Option<&str>) -> ItemOutcome {
    let v = serde_json::json!({"number": 1, "state": state, "merged": merged, "merge_commit_sha": sha, "merged_at": if merged { Some("2024-01-01T00:00:00Z") } else { None }});
    ItemOutcome::Observed {
        data: v.to_string(),
        upstream_changed_at: None,
    }
}

fn obs(json: serde_json::Value) -> ItemOutcome {
    ItemOutcome::Observed {
        data: json.to_string(),
        upstream_changed_at: None,
    }
}

async fn events(store: &Store) -> Vec<String> {
    store
        .events(None)
        .await
        .expect("events")
        .into_iter()
        .map(|e| {
            format!(
                "{} {}: {} -> {}",
                e.package,
                e.subject,
                e.from_state.unwrap_or_default(),
                e.to_state
            )
        })
        .collect()
}

/// Every reader says the same of every patch: the report (JSON), the latest event per patch,
/// the chat `debt` counts, the debt snapshot and the digest's table.
async fn assert_readers_agree(store: &Store, when: &str) {
    use forkdebt_core::model::{Bucket, BucketCounts};
    let packages = store.load_packages(None, None).await.expect("load");
    let report = forkdebt_core::report::build(&packages, &[], &Default::default());
    for e in store.latest_patch_events().await.expect("events") {
        let state = report
            .packages
            .iter()
            .filter(|p| p.name == e.package && p.downstream == e.downstream)
            .flat_map(|p| &p.patches)
            .find(|x| x.file == e.subject)
            .map(|x| x.state.as_str());
        assert_eq!(
            state,
            Some(e.to_state.as_str()),
            "{when}: {} {}",
            e.package,
            e.subject
        );
    }
    let mut reported = BucketCounts::default();
    for p in report.packages.iter().filter(|p| p.removed_at.is_none()) {
        for x in p.patches.iter().filter(|x| x.dropped_at.is_none()) {
            reported.add(x.state, 1);
        }
    }
    let mut chat = BucketCounts::default();
    for d in store.debt_counts(None).await.expect("debt") {
        chat.merge(&d.counts);
    }
    assert_eq!(chat, reported, "{when}: chat `debt` and the report");

    let now = chrono::Utc::now();
    store.snapshot_debt(now).await.expect("snapshot");
    let (carried, droppable): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(carried), 0) AS BIGINT), CAST(COALESCE(SUM(droppable), 0) AS BIGINT) \
         FROM debt_snapshots WHERE day = $1",
    )
    .bind(now.format("%Y-%m-%d").to_string())
    .fetch_one(store.pool())
    .await
    .expect("snapshot");
    assert_eq!(
        (carried as usize, droppable as usize),
        (reported.total(), reported.get(Bucket::Droppable)),
        "{when}: the debt snapshot and the report"
    );

    let everyone = forkdebt_core::config::Recipient {
        address: "team@example.org".into(),
        packages: Vec::new(),
    };
    let digest = forkdebt_bot::digest::build(store, &everyone, now)
        .await
        .expect("digest");
    let mut digested = BucketCounts::default();
    for row in &digest.table {
        for (bucket, n) in [
            (Bucket::Droppable, row.droppable),
            (Bucket::Merged, row.merged),
            (Bucket::Sent, row.sent),
            (Bucket::Kept, row.kept),
            (Bucket::Unknown, row.unknown),
        ] {
            digested.add_to(bucket, n);
        }
    }
    assert_eq!(digested, reported, "{when}: the digest and the report");
}

async fn scenario(url: &str) {
    let now = chrono::Utc::now;
    let store = Store::open(url).await.expect("open");
    store
        .register_destination("matrix:#room")
        .await
        .expect("destination");
    store
        .set_downstream_base("hs", Some("c9s"))
        .await
        .expect("base");
    store
        .apply_inventory("hs", &inventory(true), now())
        .await
        .expect("scan");

    // First sync: a baseline, nothing announced.
    store
        .record_outcomes(
            forkdebt_core::source::Dataset::Github,
            &[
                ("o/r#1".into(), pr("open", false, None)),
                ("o/r#2".into(), pr("open", false, None)),
            ],
            now(),
        )
        .await
        .expect("obs");
    store
        .record_outcomes(
            forkdebt_core::source::Dataset::Bugzilla,
            &[(
                "2100001".into(),
                obs(serde_json::json!({"status": "CLOSED", "resolution": "ERRATA"})),
            )],
            now(),
        )
        .await
        .expect("obs");
    assert!(events(&store).await.is_empty());
    store.mark_synced(now()).await.expect("baseline");

    // Every transition, each twice: the second time writes nothing.
    let steps: Vec<(&str, &str, ItemOutcome, &str)> = vec![
        (
            "github",
            "o/r#1",
            pr("closed", true, Some("abc1234")),
            "demo p1.patch: submitted -> merged",
        ),
        (
            "github-release",
            "o/r@abc1234",
            obs(serde_json::json!({"tag": "v2.0"})),
            "demo p1.patch: merged -> released",
        ),
        (
            "koji",
            "c9s/demo",
            obs(
                serde_json::json!({"tag": "c9s-candidate", "build": {"name": "demo", "epoch": null, "version": "2.1", "release": "1.el9", "nvr": "demo-2.1-1.el9"}}),
            ),
            "demo p1.patch: released -> droppable",
        ),
        (
            "github",
            "o/r#2",
            pr("closed", false, None),
            "demo p2.patch: submitted -> denied",
        ),
        (
            "bugzilla",
            "2100001",
            obs(serde_json::json!({"status": "ASSIGNED"})),
            "demo p3.patch: merged -> submitted",
        ),
    ];
    let mut expected = Vec::new();
    for (source, item, outcome, event) in steps {
        for _ in 0..2 {
            store
                .record_outcomes(
                    forkdebt_core::source::Dataset::parse(source).expect("dataset"),
                    &[(item.to_string(), outcome.clone())],
                    now(),
                )
                .await
                .expect("obs");
        }
        expected.push(event.to_string());
        assert_eq!(events(&store).await, expected, "after {source} {item}");
        assert_readers_agree(&store, &format!("after {source} {item}")).await;
    }
    // A patch leaves dist-git (twice: the second scan has nothing to announce).
    for _ in 0..2 {
        store
            .apply_inventory("hs", &inventory(false), now())
            .await
            .expect("scan");
    }
    expected.push("demo p3.patch: submitted -> dropped".into());
    assert_eq!(events(&store).await, expected);
    assert_readers_agree(&store, "after p3 left dist-git").await;

    // Fedora Changes: accepted (first seen: silent), testable, code complete, landed; and a
    // deferral. Each twice, announced once.
    let wiki = |tracker: u32, cats: &[&str]| {
        obs(
            serde_json::json!({"page": {"targeted_release": 42, "categories": ["SystemWideChange"],
            "tracker_bug": format!("https://bugzilla.redhat.com/show_bug.cgi?id={tracker}")}, "status_categories": cats}),
        )
    };
    store
        .record_outcomes(
            forkdebt_core::source::Dataset::FedoraWiki,
            &[
                ("Changes/X".into(), wiki(2300001, &["ChangeAcceptedF42"])),
                ("Changes/Y".into(), wiki(2300002, &["ChangeAcceptedF42"])),
            ],
            now(),
        )
        .await
        .expect("obs");
    // A sync decides the Changes once, after its sources.
    store.decide_changes(now()).await.expect("Changes");
    assert_eq!(
        events(&store).await,
        expected,
        "a Change seen for the first time is announced as nothing"
    );
    let bug = |status: &str, resolution: &str| {
        obs(serde_json::json!({"status": status, "resolution": resolution}))
    };
    let steps: Vec<(&str, &str, ItemOutcome, &str)> = vec![
        (
            "bugzilla",
            "2300001",
            bug("MODIFIED", ""),
            " Changes/X: accepted-f42 -> testable-f42",
        ),
        (
            "bugzilla",
            "2300001",
            bug("ON_QA", ""),
            " Changes/X: testable-f42 -> code-complete-f42",
        ),
        (
            "bugzilla",
            "2300001",
            bug("CLOSED", "CURRENTRELEASE"),
            " Changes/X: code-complete-f42 -> landed-f42",
        ),
        (
            "fedora_wiki",
            "Changes/Y",
            wiki(2300002, &["ChangeAcceptedF43"]),
            " Changes/Y: accepted-f42 -> deferred-f43",
        ),
    ];
    for (source, item, outcome, event) in steps {
        for _ in 0..2 {
            store
                .record_outcomes(
                    forkdebt_core::source::Dataset::parse(source).expect("dataset"),
                    &[(item.to_string(), outcome.clone())],
                    now(),
                )
                .await
                .expect("obs");
            store.decide_changes(now()).await.expect("Changes");
        }
        expected.push(event.to_string());
        assert_eq!(events(&store).await, expected, "after {source} {item}");
        assert_readers_agree(&store, &format!("after {source} {item}")).await;
    }

    // One delivery per event for the registered destination, with its idempotency key.
    let pending = store
        .pending_deliveries("matrix:#room")
        .await
        .expect("outbox");
    assert_eq!(pending.len(), expected.len());
    assert!(
        pending
            .iter()
            .all(|(key, id)| key == &format!("matrix:#room:event:{id}"))
    );
    store.close().await;
}

#[tokio::test]
async fn transitions_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    scenario(&format!("sqlite://{}", dir.path().join("t.db").display())).await;
}

#[tokio::test]
async fn transitions_on_postgres() {
    scenario(&postgres_database().await).await;
}
