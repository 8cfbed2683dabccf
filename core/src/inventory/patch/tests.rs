use super::*;
use crate::model::{PatchState, RefKind, Role};

fn gh() -> UpstreamProject {
    UpstreamProject::Github {
        owner: "systemd".into(),
        repo: "systemd".into(),
    }
}

fn parse_str(s: &str) -> (PatchInfo, Vec<Warning>) {
    let mut w = Vec::new();
    let up = gh();
    let info = parse(s.as_bytes(), "p.patch", Some(&up), &mut w);
    (info, w)
}

fn kinds(info: &PatchInfo) -> Vec<(RefKind, String, Role)> {
    let mut refs = info.refs.clone();
    refs::dedup(&mut refs);
    refs.into_iter().map(|r| (r.kind, r.id, r.role)).collect()
}

const DIFF: &str =
    "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,3 @@\n a\n-b\n+c\n+--- not a header\n";

#[test]
fn format_patch_header_and_trailers() {
    let text = format!(
        "From 2d1c4e9f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d Mon Sep 17 00:00:00 2001\nFrom: Z <z@x>\n\
         Date: Thu, 4 Jun 2020 11:02:11 +0200\nSubject: [PATCH 2/3] core: refuse activation\n when dbus is down\n\n\
         Body text.\n\nFixes: #123\nLink: https://github.com/systemd/systemd/pull/16838\n\
         (cherry picked from commit 156a5fd297b61bce31630d7a52c15614bf784843)\n---\n src/x | 2 +-\n{DIFF}"
    );
    let (info, w) = parse_str(&text);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(
        info.subject.as_deref(),
        Some("core: refuse activation when dbus is down")
    );
    assert_eq!(info.author.as_deref(), Some("Z <z@x>"));
    assert_eq!((info.lines_added, info.lines_removed), (2, 1));
    assert_eq!(
        kinds(&info),
        vec![
            (
                RefKind::UpstreamCommit,
                "systemd/systemd@2d1c4e9f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d".into(),
                Role::Origin
            ),
            (
                RefKind::GithubIssue,
                "systemd/systemd#123".into(),
                Role::Related
            ),
            (
                RefKind::GithubPr,
                "systemd/systemd#16838".into(),
                Role::Origin
            ),
            (
                RefKind::UpstreamCommit,
                "systemd/systemd@156a5fd297b61bce31630d7a52c15614bf784843".into(),
                Role::Origin
            ),
        ]
    );
    assert_eq!(
        info.claims.iter().map(|c| c.state).collect::<Vec<_>>(),
        vec![PatchState::Merged]
    );
}

#[test]
fn dep3_and_yocto_fields_claim_states() {
    let cases = [
        ("Forwarded: no\n", PatchState::NotSent),
        ("Forwarded: not-needed\n", PatchState::NotNeeded),
        (
            "Forwarded: https://github.com/systemd/systemd/pull/1\n",
            PatchState::Submitted,
        ),
        ("Applied-Upstream: 4.15.0\n", PatchState::Merged),
        (
            "Origin: upstream, https://github.com/systemd/systemd/commit/abcdef1234567\n",
            PatchState::Merged,
        ),
        ("Upstream-Status: Pending\n", PatchState::NotSent),
        (
            "Upstream-Status: Submitted [https://github.com/systemd/systemd/pull/2]\n",
            PatchState::Submitted,
        ),
        (
            "Upstream-Status: Backport [https://github.com/systemd/systemd/commit/abcdef1234567]\n",
            PatchState::Merged,
        ),
        (
            "Upstream-Status: Inappropriate [oe specific]\n",
            PatchState::NotNeeded,
        ),
        ("Upstream-Status: Denied\n", PatchState::Denied),
        ("Upstream-Status: Accepted\n", PatchState::Merged),
        ("Patch-mainline: v6.5.0\n", PatchState::Merged),
        (
            "Patch-mainline: Never, SUSE specific\n",
            PatchState::NotSent,
        ),
        ("Upstream status: not-needed\n", PatchState::NotNeeded),
        ("# PATCH-FIX-OPENSUSE local tweak\n", PatchState::NotNeeded),
    ];
    for (header, state) in cases {
        let (info, _) = parse_str(&format!("Description: x\n{header}\n{DIFF}"));
        assert_eq!(
            info.claims.iter().map(|c| c.state).collect::<Vec<_>>(),
            vec![state],
            "{header}"
        );
    }
}

#[test]
fn fixes_names_a_related_issue_never_the_patch() {
    let (info, _) = parse_str(&format!(
        "Subject: x\n\nFixes: 5d4c3b2a1f0e (\"xfs_io: add fiemap\")\nCloses: #2500\n---\n{DIFF}"
    ));
    assert!(
        info.refs.iter().all(|r| r.role == Role::Related),
        "{:?}",
        info.refs
    );
    assert_eq!(info.refs.len(), 2);
}

#[test]
fn squash_merge_subject_is_the_pr() {
    let (info, _) = parse_str(&format!(
        "Subject: [PATCH] network: keep routes (#24012)\n---\n{DIFF}"
    ));
    assert_eq!(
        kinds(&info),
        vec![(
            RefKind::GithubPr,
            "systemd/systemd#24012".into(),
            Role::Origin
        )]
    );
}

#[test]
fn header_less_empty_and_binary_patches_warn() {
    let (info, w) = parse_str(DIFF);
    assert!(info.refs.is_empty() && w.is_empty());
    assert_eq!((info.header_lines, info.first_diff_line), (0, Some(1)));

    let (_, w) = parse_str("\n\n");
    assert!(w[0].message.contains("empty"));

    let mut w = Vec::new();
    let _ = parse(b"GIT binary patch\x00\x01", "b.patch", None, &mut w);
    assert!(w[0].message.contains("binary"));

    let (_, w) = parse_str("Subject: only a header\n");
    assert!(w[0].message.contains("no diff"));
}

#[test]
fn hunk_counts_ignore_file_headers_and_no_newline_markers() {
    let text = "Subject: x\n\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-old\n+new\n\\ No newline at end of file\n--- a/g\n+++ b/g\n@@ -5,0 +6,2 @@\n+x\n+y\n";
    let (info, _) = parse_str(text);
    assert_eq!((info.lines_added, info.lines_removed), (3, 1));
}
