use super::*;
use crate::model::{RefKind, UpstreamProject};

fn ctx(up: &UpstreamProject) -> TextContext<'_> {
    TextContext::new(Some(up), "f".into(), Role::Origin)
}

#[test]
fn file_name_conventions() {
    let up = UpstreamProject::Github {
        owner: "systemd".into(),
        repo: "systemd".into(),
    };
    let cases: &[(&str, &[(RefKind, &str)])] = &[
        ("35.patch", &[(RefKind::GithubPr, "systemd/systemd#35")]),
        (
            "16838_16857_improve_path_search.patch",
            &[
                (RefKind::GithubPr, "systemd/systemd#16838"),
                (RefKind::GithubPr, "systemd/systemd#16857"),
            ],
        ),
        (
            "f1901d31243f2f3bdd4a17afe779ea8085e4db2b.patch",
            &[(
                RefKind::UpstreamCommit,
                "systemd/systemd@f1901d31243f2f3bdd4a17afe779ea8085e4db2b",
            )],
        ),
        (
            "Fix-rootless-netns---154-.patch",
            &[(RefKind::GithubPr, "systemd/systemd#154")],
        ),
        (
            "glibc-rh2222222-malloc.patch",
            &[(RefKind::Rhbz, "2222222")],
        ),
        ("systemd-rhbz1984567.patch", &[(RefKind::Rhbz, "1984567")]),
        (
            "pr19001.patch",
            &[(RefKind::GithubPr, "systemd/systemd#19001")],
        ),
        (
            "x-gh19050.patch",
            &[(RefKind::Ambiguous, "systemd/systemd#19050")],
        ),
        ("CVE-2024-1753.patch", &[(RefKind::Cve, "CVE-2024-1753")]),
        ("0001-core-fix-thing.patch", &[]),
        ("0001.patch", &[]),
        ("systemd-252-hs-defaults.patch", &[]),
        ("bash-2.02-security.patch", &[]),
    ];
    for (name, want) in cases {
        let got: Vec<(RefKind, String)> = filename::refs(name, &ctx(&up))
            .into_iter()
            .map(|r| (r.kind, r.id))
            .collect();
        let want: Vec<(RefKind, String)> = want.iter().map(|(k, i)| (*k, i.to_string())).collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn same_target_matches_commit_abbreviations_and_numbers() {
    let up = UpstreamProject::Github {
        owner: "o".into(),
        repo: "r".into(),
    };
    let c = ctx(&up);
    let full = refs::extract(
        "cherry picked from commit 156a5fd297b61bce31630d7a52c15614bf784843",
        &c,
    );
    let short = refs::extract("Backport 156a5fd", &c);
    assert!(same_target(&full[0], &short[0]));
    let pr = refs::extract("PR 16803", &c);
    let hash = refs::extract("see #16803", &c);
    assert_eq!(hash[0].kind, RefKind::Ambiguous);
    assert!(same_target(&pr[0], &hash[0]));
    assert!(!same_target(&pr[0], &refs::extract("see #1680", &c)[0]));
}
