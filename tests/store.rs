//! One store story, run on SQLite and on PostgreSQL: what a scan writes is what a report
//! reads, rescans are idempotent, vanished patches are dropped not deleted, reopening keeps all.

use crate::util::{postgres_database, sample_distgit};
use forkdebt_core::inventory::{self, Inventory, ScanOptions, history::HistoryPoint};
use forkdebt_core::model::{PatchState, RefKind};
use forkdebt_core::store::Store;
use std::collections::BTreeSet;

fn scan_sample() -> Inventory {
    inventory::scan(&[sample_distgit()], &ScanOptions::default())
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().expect("time")
}

async fn story(url: &str) {
    let store = Store::open(url).await.expect("open");
    let inv = scan_sample();
    let s = store
        .apply_inventory("hyperscale", &inv, at("2026-01-01T00:00:00Z"))
        .await
        .expect("apply");
    assert_eq!((s.packages, s.patches, s.added, s.dropped), (12, 63, 63, 0));

    // What was written reads back field for field, references in order.
    let stored = store
        .load_packages(Some("hyperscale"), None)
        .await
        .expect("load");
    assert_eq!(stored.len(), 12);
    // The report JSON written a page at a time is the report serialized whole, byte for byte.
    let whole = forkdebt_core::report::from_store(&store, None)
        .await
        .expect("report");
    for pretty in [true, false] {
        let mut paged = Vec::new();
        forkdebt_core::report::write_json(&store, None, pretty, |piece| {
            paged.extend(piece);
            Ok(())
        })
        .await
        .expect("paged report");
        let want = if pretty {
            serde_json::to_vec_pretty(&whole)
        } else {
            serde_json::to_vec(&whole)
        }
        .expect("json");
        assert_eq!(
            String::from_utf8_lossy(&paged),
            String::from_utf8_lossy(&want)
        );
    }
    // The dashboard's filter: a substring, LIKE wildcards literal, any length without error.
    let (rows, n) = store
        .package_debts(&"_".repeat(40_000), 200)
        .await
        .expect("a long filter is no error");
    assert!(rows.is_empty() && n == 0);
    let (rows, _) = store.package_debts("ystem", 200).await.expect("filter");
    assert!(rows.iter().any(|r| r.package == "systemd"));
    let (rows, _) = store.package_debts("%", 200).await.expect("filter");
    assert!(rows.is_empty(), "% is literal");
    for sp in &stored {
        let scanned = inv
            .packages
            .iter()
            .find(|p| p.name == sp.package.name)
            .expect("scanned");
        assert_eq!(sp.package.evr(), scanned.evr());
        assert_eq!(sp.package.upstream, scanned.upstream);
        assert_eq!(sp.package.changelog_refs, scanned.changelog_refs);
        let got: Vec<_> = sp.patches.iter().map(|p| p.patch.clone()).collect();
        let mut want = scanned.patches.clone();
        want.sort_by_key(|p| (p.number, p.file.clone()));
        assert_eq!(got, want, "{}", sp.package.name);
        assert!(
            sp.patches
                .iter()
                .all(|p| p.first_seen == "2026-01-01T00:00:00Z")
        );
    }
    assert_eq!(
        store.downstreams().await.expect("downstreams"),
        vec!["hyperscale".to_string()]
    );
    assert_eq!(
        store.load_deviations(None).await.expect("deviations").len(),
        2
    );

    // The same scan again changes nothing but "last seen".
    let s = store
        .apply_inventory("hyperscale", &inv, at("2026-01-02T00:00:00Z"))
        .await
        .expect("again");
    assert_eq!((s.added, s.changed, s.unchanged, s.dropped), (0, 0, 63, 0));

    // A patch disappears, another gains a reference, a package goes away.
    let mut next = inv.clone();
    let sd = next
        .packages
        .iter_mut()
        .find(|p| p.name == "systemd")
        .expect("systemd");
    sd.patches.retain(|p| p.file != "16803.patch");
    let local = sd
        .patches
        .iter_mut()
        .find(|p| p.file == "systemd-hs-unified-cgroup-only.patch")
        .expect("local");
    local.refs = inventory::refs::extract(
        "https://github.com/systemd/systemd/pull/31000",
        &inventory::refs::TextContext::new(None, "test".into(), forkdebt_core::model::Role::Origin),
    );
    next.packages.retain(|p| p.name != "btrfs-progs");
    let s = store
        .apply_inventory("hyperscale", &next, at("2026-01-03T00:00:00Z"))
        .await
        .expect("third");
    assert_eq!(
        (s.added, s.changed, s.dropped, s.packages_removed),
        (0, 1, 3, 1)
    );

    // Reopening (migrations run again) keeps everything.
    store.close().await;
    let store = Store::open(url).await.expect("reopen");
    let stored = store
        .load_packages(Some("hyperscale"), Some("systemd"))
        .await
        .expect("load");
    let sd = &stored[0];
    let gone = sd
        .patches
        .iter()
        .find(|p| p.patch.file == "16803.patch")
        .expect("kept as dropped");
    assert_eq!(gone.state, PatchState::Dropped);
    assert_eq!(gone.dropped_at.as_deref(), Some("2026-01-03T00:00:00Z"));
    assert_eq!(
        gone.patch
            .refs
            .iter()
            .filter(|r| r.kind == RefKind::GithubPr)
            .count(),
        1,
        "its references are kept"
    );
    let changed = sd
        .patches
        .iter()
        .find(|p| p.patch.file == "systemd-hs-unified-cgroup-only.patch")
        .expect("p");
    assert_eq!(changed.patch.refs.len(), 1);
    assert_eq!(changed.patch.refs[0].id, "systemd/systemd#31000");
    assert_eq!(changed.state, PatchState::Unknown);
    let btrfs = store
        .load_packages(None, Some("btrfs-progs"))
        .await
        .expect("load");
    assert_eq!(btrfs[0].removed_at.as_deref(), Some("2026-01-03T00:00:00Z"));
    assert!(
        btrfs[0]
            .patches
            .iter()
            .all(|p| p.state == PatchState::Dropped)
    );

    // History: points are stored once; first_seen moves back to the first carrying commit.
    let point = |commit: &str, time: i64, files: &[&str]| HistoryPoint {
        package: "systemd".into(),
        commit: commit.into(),
        time,
        at: chrono::DateTime::from_timestamp(time, 0)
            .unwrap_or_default()
            .to_rfc3339(),
        patches: files.iter().map(|f| f.to_string()).collect::<BTreeSet<_>>(),
        blobs: files
            .iter()
            .map(|f| (f.to_string(), format!("blob-{f}")))
            .collect(),
    };
    let points = vec![
        point("c1", 1_600_000_000, &["23456.patch"]),
        point(
            "c2",
            1_650_000_000,
            &[
                "23456.patch",
                "f1901d31243f2f3bdd4a17afe779ea8085e4db2b.patch",
            ],
        ),
    ];
    assert_eq!(
        store
            .record_history("hyperscale", &points)
            .await
            .expect("history"),
        2
    );
    assert_eq!(
        store
            .record_history("hyperscale", &points)
            .await
            .expect("history again"),
        0
    );
    // The daily debt snapshot (an aggregate statement: checked on both backends).
    assert_eq!(
        store
            .snapshot_debt(at("2026-01-03T12:00:00Z"))
            .await
            .expect("snapshot"),
        11
    );
    let h = store.history("hyperscale").await.expect("read");
    assert_eq!(h.iter().map(|p| p.patches).collect::<Vec<_>>(), vec![1, 2]);
    let sd = &store
        .load_packages(None, Some("systemd"))
        .await
        .expect("load")[0];
    let first = |f: &str| {
        sd.patches
            .iter()
            .find(|p| p.patch.file == f)
            .expect(f)
            .first_seen
            .clone()
    };
    assert_eq!(first("23456.patch"), "2020-09-13T12:26:40Z");
    assert_eq!(
        first("f1901d31243f2f3bdd4a17afe779ea8085e4db2b.patch"),
        "2022-04-15T05:20:00Z"
    );
    store.close().await;
}

#[tokio::test]
async fn store_story_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    story(&format!(
        "sqlite://{}",
        dir.path().join("story.db").display()
    ))
    .await;
}

#[tokio::test]
async fn store_story_on_postgres() {
    let url = postgres_database().await;
    story(&url).await;
}

/// Evidence is typed and decoded once, in the store: a verdict or an event whose evidence is
/// in an old or broken shape is reported as damaged, naming it — never read as an empty
/// chain (which would announce the patch's state again).
async fn damaged_evidence_is_reported(url: &str) {
    let store = Store::open(url).await.expect("open");
    store
        .apply_inventory("hs", &scan_sample(), at("2026-01-01T00:00:00Z"))
        .await
        .expect("apply");
    let (patch_id,): (i64,) = sqlx::query_as("SELECT MIN(id) FROM patches")
        .fetch_one(store.pool())
        .await
        .expect("a patch");
    for evidence in [
        r#"[{"text":"first in v253","url":null,"at":null}]"#,
        r#"[{"hop":"first-release","tag":"v1","version":null,"surprise":1}]"#,
        "not json",
    ] {
        sqlx::query("DELETE FROM verdicts WHERE patch_id = $1")
            .bind(patch_id)
            .execute(store.pool())
            .await
            .expect("clear");
        sqlx::query(
            "INSERT INTO verdicts (patch_id, state, confidence, evidence, decided_at) VALUES ($1, 'merged', 'high', $2, 'now')",
        )
        .bind(patch_id)
        .bind(evidence)
        .execute(store.pool())
        .await
        .expect("insert");
        let err = store
            .load_packages(Some("hs"), None)
            .await
            .expect_err("damaged evidence is an error");
        let text = err.to_string();
        assert!(
            text.contains("damaged") && text.contains(&format!("patch {patch_id}")),
            "{text}"
        );
    }
    sqlx::query(
        "INSERT INTO events (downstream, package, subject, kind, to_state, evidence, created_at) \
         VALUES ('hs', 'p', 's', 'patch-state', 'merged', '[{\"text\":\"old\"}]', '2026-01-01T00:00:00Z')",
    )
    .execute(store.pool())
    .await
    .expect("event");
    let err = store.events(None).await.expect_err("damaged event");
    assert!(err.to_string().contains("event evidence"), "{err}");
    store.close().await;
}

#[tokio::test]
async fn damaged_evidence_is_reported_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    damaged_evidence_is_reported(&format!("sqlite://{}", dir.path().join("d.db").display())).await;
}

#[tokio::test]
async fn damaged_evidence_is_reported_on_postgres() {
    damaged_evidence_is_reported(&postgres_database().await).await;
}

/// A store written before evidence was typed (migrations up to 15, prose hops) opens with
/// every old hop readable as it read before, every verdict decided again silently (typed,
/// no event added), on SQLite.
#[tokio::test]
async fn a_store_with_prose_evidence_upgrades_silently() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    // The store as the previous version left it.
    let old = dir.path().join("migrations");
    std::fs::create_dir_all(&old).expect("mkdir");
    for entry in std::fs::read_dir(crate::util::repo_root().join("migrations/sqlite")).expect("ls")
    {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.as_str() < "20261207000016" {
            std::fs::copy(entry.path(), old.join(&name)).expect("copy");
        }
    }
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.expect("connect");
    sqlx::migrate::Migrator::new(old.as_path())
        .await
        .expect("migrator")
        .run(&pool)
        .await
        .expect("old migrations");
    for sql in [
        "INSERT INTO downstreams (name, synced_at) VALUES ('hs', '2026-01-01T00:00:00Z')",
        "INSERT INTO packages (downstream_id, name, spec_path, version, release, changelog_refs, fingerprint, first_seen, last_seen) \
         VALUES (1, 'demo', 'rpms/demo/demo.spec', '1', '1', '[]', 'f', 'x', 'x')",
        "INSERT INTO patches (package_id, file, lines_added, lines_removed, state, claims, fingerprint, first_seen, last_seen) \
         VALUES (1, 'a.patch', 1, 1, 'not-sent', '[]', 'f', 'x', 'x')",
        r#"INSERT INTO verdicts (patch_id, state, confidence, evidence, decided_at) VALUES (1, 'released', 'high', '[{"text":"first in v253","url":null,"at":null}]', 'x')"#,
        r#"INSERT INTO events (downstream, package, subject, kind, from_state, to_state, evidence, created_at) VALUES ('hs', 'demo', 'a.patch', 'patch-state', 'merged', 'released', '[{"text":"PR o/r#1 merged as abc","url":"https://github.com/o/r/pull/1","at":null},{"text":"first in v253","url":null,"at":null}]', '2026-01-02T00:00:00Z')"#,
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    pool.close().await;

    let store = Store::open(&format!("sqlite://{}", path.display()))
        .await
        .expect("the upgrade");
    let events = store.events(None).await.expect("old events read");
    assert_eq!(events.len(), 1, "no event added by the upgrade");
    assert_eq!(
        forkdebt_core::evidence::chain_text(&events[0].evidence),
        "PR o/r#1 merged as abc -> first in v253"
    );
    assert_eq!(
        events[0].evidence[0].url(),
        Some("https://github.com/o/r/pull/1")
    );
    // Decided again from what the store knows (nothing upstream): its evidence is typed.
    let packages = store.load_packages(None, Some("demo")).await.expect("load");
    let v = &packages[0].patches[0].verdict;
    assert_eq!(v.state, PatchState::NotSent, "{v:?}");
    assert!(
        !v.evidence
            .iter()
            .any(|h| matches!(h, forkdebt_core::evidence::Hop::Note { .. })),
        "{v:?}"
    );
    store.close().await;
}

/// Upstream releases (issue 30): the first look records a project's tags (or, with none yet,
/// that it was looked at) and announces nothing; a new tag is announced once, per package,
/// in the same transaction as the tag.
async fn releases_are_announced_once(url: &str) {
    use forkdebt_core::store::ReleaseNews;
    let store = Store::open(url).await.expect("open");
    let now = at("2026-12-01T00:00:00Z");
    assert_eq!(store.seen_releases("org/new").await.expect("seen"), None);
    // A project without releases yet: looked at, so its first release is news.
    store
        .remember_releases("org/new", &[], now)
        .await
        .expect("remember");
    assert!(
        store
            .seen_releases("org/new")
            .await
            .expect("seen")
            .is_some()
    );
    store
        .remember_releases(
            "org/old",
            &[("1.0".into(), "v1.0".into()), ("1.1".into(), "v1.1".into())],
            now,
        )
        .await
        .expect("remember");
    let seen = store
        .seen_releases("org/old")
        .await
        .expect("seen")
        .expect("some");
    assert!(seen.contains("v1.0") && seen.contains("v1.1"), "{seen:?}");
    let news = [ReleaseNews {
        downstream: "hs".into(),
        package: "new".into(),
        dropped: vec!["0001-fix.patch".into()],
        carried: 2,
    }];
    let first = store
        .record_release("org/new", "v0.1", "0.1", &news, now)
        .await
        .expect("record");
    let again = store
        .record_release("org/new", "v0.1", "0.1", &news, now)
        .await
        .expect("record");
    assert_eq!((first, again), (1, 0));
    let events = store.release_events(Some("hs")).await.expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].subject, "v0.1");
    assert!(
        store
            .release_events(Some("other"))
            .await
            .expect("events")
            .is_empty()
    );
    store.close().await;
}

#[tokio::test]
async fn releases_are_announced_once_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    releases_are_announced_once(&format!("sqlite://{}", dir.path().join("r.db").display())).await;
}

#[tokio::test]
async fn releases_are_announced_once_on_postgres() {
    releases_are_announced_once(&postgres_database().await).await;
}
