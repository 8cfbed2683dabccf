//! The sample dist-git: every patch, every reference with its kind, as a user reads them in
//! `report --format json`.

use crate::util::{forkdebt_ok, sample_distgit};
use serde_json::Value;
use std::collections::BTreeMap;

fn report_json(dir: &std::path::Path) -> Value {
    let db = format!("sqlite://{}", dir.join("f.db").display());
    let sample = sample_distgit();
    forkdebt_ok(
        dir,
        &["--database", &db, "scan", sample.to_str().expect("utf-8")],
    );
    let out = forkdebt_ok(dir, &["--database", &db, "report", "--format", "json"]);
    serde_json::from_str(&out).expect("report --format json is JSON")
}

type Row = (String, bool, Vec<String>);

fn expected() -> BTreeMap<(String, String), Row> {
    include_str!("data/sample-expected.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            let refs = f[4]
                .split("; ")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            (
                (f[0].to_string(), f[1].to_string()),
                (f[2].to_string(), f[3] == "local", refs),
            )
        })
        .collect()
}

#[test]
fn scan_finds_every_patch_and_every_reference_with_its_kind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = report_json(dir.path());
    let packages = report["packages"].as_array().expect("packages");
    assert_eq!(packages.len(), 12);

    let mut got: BTreeMap<(String, String), Row> = BTreeMap::new();
    for p in packages {
        for patch in p["patches"].as_array().expect("patches") {
            let refs = patch["refs"]
                .as_array()
                .expect("refs")
                .iter()
                .map(|r| {
                    format!(
                        "{} {}",
                        r["kind"].as_str().expect("kind"),
                        r["id"].as_str().expect("id")
                    )
                })
                .collect();
            let key = (
                p["name"].as_str().expect("name").to_string(),
                patch["file"].as_str().expect("file").to_string(),
            );
            let row = (
                patch["state"].as_str().expect("state").to_string(),
                patch["local_only"].as_bool().expect("local_only"),
                refs,
            );
            assert!(got.insert(key, row).is_none(), "a patch appears twice");
        }
    }
    let want = expected();
    assert_eq!(
        got.len(),
        63,
        "every Patch line of the sample (the one under %if 0 excluded)"
    );
    for (key, w) in &want {
        assert_eq!(got.get(key), Some(w), "{key:?}");
    }
    assert_eq!(got.len(), want.len());

    // Local-only patches have no references and say so in their evidence.
    for p in packages {
        for patch in p["patches"].as_array().expect("patches") {
            if patch["local_only"].as_bool() == Some(true) {
                assert!(patch["refs"].as_array().expect("refs").is_empty());
                let ev = patch["evidence"].to_string();
                assert!(ev.contains("local-only"), "{ev}");
            }
        }
    }
}

fn package<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("package {name}"))
}

fn patch<'a>(report: &'a Value, pkg: &str, file: &str) -> &'a Value {
    package(report, pkg)["patches"]
        .as_array()
        .expect("patches")
        .iter()
        .find(|p| p["file"] == file)
        .unwrap_or_else(|| panic!("patch {file}"))
}

#[test]
fn references_say_where_they_were_found_how_sure_and_their_role() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = report_json(dir.path());

    // Fixes: names a related issue, never the patch's own PR.
    let fstrim = patch(
        &report,
        "util-linux",
        "0004-fstrim-dont-trigger-on-read-only-mounts.patch",
    );
    let issue = fstrim["refs"]
        .as_array()
        .expect("refs")
        .iter()
        .find(|r| r["kind"] == "github-issue")
        .expect("issue");
    assert_eq!(issue["role"], "related");
    assert!(
        issue["found_in"]
            .as_str()
            .expect("found_in")
            .ends_with(":6 (Fixes)"),
        "{issue}"
    );

    // A bare number: Red Hat bug by magnitude, low confidence, with a note.
    let mount = patch(
        &report,
        "util-linux",
        "util-linux-2.37-mount-loop-nfs.patch",
    );
    let bz = &mount["refs"][0];
    assert_eq!(
        (bz["kind"].as_str(), bz["confidence"].as_str()),
        (Some("rhbz"), Some("low"))
    );
    assert!(
        bz["found_in"]
            .as_str()
            .expect("found_in")
            .contains("util-linux.spec:16")
    );
    assert!(bz["note"].as_str().expect("note").contains("magnitude"));

    // Ambiguous numbers keep their candidates.
    let agetty = patch(&report, "util-linux", "util-linux-agetty-issue-run.patch");
    assert!(
        agetty["refs"][0]["note"]
            .as_str()
            .expect("note")
            .contains("util-linux/util-linux")
    );

    // A cherry-pick trailer is sure; the changelog's abbreviation of it is folded into it.
    let dbus = patch(
        &report,
        "systemd",
        "0001-core-refuse-dbus-activation-if-dbus-is-not-running.patch",
    );
    let pick = dbus["refs"]
        .as_array()
        .expect("refs")
        .iter()
        .find(|r| r["id"].as_str().is_some_and(|i| i.contains("156a5fd")))
        .expect("pick");
    assert_eq!(pick["confidence"], "high");
    assert_eq!(
        pick["url"],
        "https://github.com/systemd/systemd/commit/156a5fd297b61bce31630d7a52c15614bf784843"
    );
    assert!(
        dbus["evidence"]
            .to_string()
            .contains("Backport 156a5fd to mitigate CVE-2020-13776")
    );

    // systemd-stable releases, PRs in systemd/systemd.
    assert_eq!(package(&report, "systemd")["upstream"]["repo"], "systemd");
    // %changelog references to no carried patch stay on the package.
    let cl = package(&report, "systemd")["changelog_refs"].to_string();
    assert!(cl.contains("2100001"), "{cl}");
}

#[test]
fn packages_show_evr_release_markers_and_deviations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = report_json(dir.path());
    let marker = |n: &str| {
        package(&report, n)["local_marker"]
            .as_str()
            .map(str::to_string)
    };
    assert_eq!(package(&report, "NetworkManager")["evr"], "1:1.44.2-1.hs");
    assert_eq!(package(&report, "podman")["evr"], "5:4.9.4-1");
    assert_eq!(package(&report, "bash")["evr"], "5.1.26-6.hs");
    assert_eq!(marker("util-linux").as_deref(), Some("fb6"));
    assert_eq!(marker("dnf").as_deref(), Some("hs+fb"));
    assert_eq!(marker("iptables").as_deref(), Some("hsx"));
    assert_eq!(marker("podman"), None);
    assert_eq!(
        package(&report, "util-linux")["spec"],
        "rpms/util-linux/specfiles/util-linux.spec"
    );

    let devs = report["deviations"].as_array().expect("deviations");
    let changes: Vec<&str> = devs
        .iter()
        .map(|d| d["refs"][0]["id"].as_str().expect("id"))
        .collect();
    assert_eq!(changes, vec!["BtrfsByDefault", "RemoveIptablesLegacy"]);
    assert!(devs.iter().all(|d| d["refs"][0]["kind"] == "fedora-change"));

    // Patch under an %if forkdebt cannot evaluate: kept, with the condition.
    let out = crate::util::forkdebt_ok(
        dir.path(),
        &[
            "--database",
            &format!("sqlite://{}", dir.path().join("f.db").display()),
            "show",
            "glibc",
        ],
    );
    assert!(out.contains("only when: %if 0%{?rhel} >= 9"), "{out}");
    assert!(
        !out.contains("glibc-old-disabled.patch"),
        "a patch under %if 0 is not carried"
    );
}
