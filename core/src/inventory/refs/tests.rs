//! Reference extraction, as tables of `(name, input, upstream, expected (kind, id))`.

use super::*;

fn gh(owner: &str, repo: &str) -> UpstreamProject {
    UpstreamProject::Github {
        owner: owner.into(),
        repo: repo.into(),
    }
}

fn gl() -> UpstreamProject {
    UpstreamProject::Gitlab {
        host: "gitlab.freedesktop.org".into(),
        path: "NetworkManager/NetworkManager".into(),
    }
}

struct Case {
    name: &'static str,
    input: &'static str,
    upstream: Option<UpstreamProject>,
    expected: &'static [(RefKind, &'static str)],
}

fn run(cases: &[Case]) {
    for c in cases {
        let ctx = TextContext::new(c.upstream.as_ref(), "t".into(), Role::Origin);
        let mut got = extract(c.input, &ctx);
        dedup(&mut got);
        let got: Vec<(RefKind, String)> = got.into_iter().map(|r| (r.kind, r.id)).collect();
        let want: Vec<(RefKind, String)> = c
            .expected
            .iter()
            .map(|(k, i)| (*k, i.to_string()))
            .collect();
        assert_eq!(got, want, "case `{}`: {:?}", c.name, c.input);
    }
}

#[test]
fn urls_of_every_forge() {
    use RefKind::*;
    run(&[
        Case {
            name: "github pr",
            input: "https://github.com/systemd/systemd/pull/16838",
            upstream: None,
            expected: &[(GithubPr, "systemd/systemd#16838")],
        },
        Case {
            name: "github pr .patch download",
            input: "https://github.com/systemd/systemd/pull/23456.patch",
            upstream: None,
            expected: &[(GithubPr, "systemd/systemd#23456")],
        },
        Case {
            name: "github commit",
            input: "see https://github.com/systemd/systemd/commit/3335de9ab1.patch).",
            upstream: None,
            expected: &[(UpstreamCommit, "systemd/systemd@3335de9ab1")],
        },
        Case {
            name: "github issue",
            input: "https://github.com/rpm-software-management/dnf/issues/1800",
            upstream: None,
            expected: &[(GithubIssue, "rpm-software-management/dnf#1800")],
        },
        Case {
            name: "gitlab mr on another instance",
            input: "Link: https://gitlab.freedesktop.org/NetworkManager/NetworkManager/-/merge_requests/1780",
            upstream: None,
            expected: &[(GitlabMr, "NetworkManager/NetworkManager!1780")],
        },
        Case {
            name: "centos stream dist-git mr",
            input: "https://gitlab.com/redhat/centos-stream/rpms/systemd/-/merge_requests/12",
            upstream: None,
            expected: &[(GitlabMr, "redhat/centos-stream/rpms/systemd!12")],
        },
        Case {
            name: "pagure pr on src.fp.o",
            input: "https://src.fedoraproject.org/rpms/iptables/pull-request/12",
            upstream: None,
            expected: &[(PagurePr, "rpms/iptables#12")],
        },
        Case {
            name: "rhbz both url forms",
            input: "https://bugzilla.redhat.com/show_bug.cgi?id=1984567 and https://bugzilla.redhat.com/2100001",
            upstream: None,
            expected: &[(Rhbz, "1984567"), (Rhbz, "2100001")],
        },
        Case {
            name: "fedora change",
            input: "https://fedoraproject.org/wiki/Changes/BtrfsByDefault",
            upstream: None,
            expected: &[(FedoraChange, "BtrfsByDefault")],
        },
        Case {
            name: "cgit commit",
            input: "https://git.netfilter.org/iptables/commit/?id=78850e7dba64a949c440dbdbe557f59409c6db48",
            upstream: None,
            expected: &[(
                UpstreamCommit,
                "git.netfilter.org@78850e7dba64a949c440dbdbe557f59409c6db48",
            )],
        },
        Case {
            name: "any other url",
            input: "https://savannah.gnu.org/bugs/?63000",
            upstream: None,
            expected: &[(Url, "https://savannah.gnu.org/bugs/?63000")],
        },
    ]);
}

#[test]
fn numbers_resolved_from_context() {
    use RefKind::*;
    run(&[
        Case {
            name: "PR word with github upstream",
            input: "PR 13823 - fix the thing",
            upstream: Some(gh("systemd", "systemd")),
            expected: &[(GithubPr, "systemd/systemd#13823")],
        },
        Case {
            name: "PR#N",
            input: "PR#35: fix the build",
            upstream: Some(gh("rpm-software-management", "rpm")),
            expected: &[(GithubPr, "rpm-software-management/rpm#35")],
        },
        Case {
            name: "two PRs",
            input: "Backport PRs #12 and #13",
            upstream: Some(gh("o", "r")),
            expected: &[(GithubPr, "o/r#12"), (GithubPr, "o/r#13")],
        },
        Case {
            name: "MR with gitlab upstream",
            input: "MR !1734 - dhcp: fix crash",
            upstream: Some(gl()),
            expected: &[(GitlabMr, "NetworkManager/NetworkManager!1734")],
        },
        Case {
            name: "PR word without a forge is ambiguous",
            input: "PR 35 - scp",
            upstream: None,
            expected: &[(Ambiguous, "#35")],
        },
        Case {
            name: "leading big number is a Red Hat bug",
            input: "151635 - mount fails",
            upstream: Some(gh("util-linux", "util-linux")),
            expected: &[(Rhbz, "151635")],
        },
        Case {
            name: "leading small number is ambiguous",
            input: "4567 - agetty",
            upstream: Some(gh("util-linux", "util-linux")),
            expected: &[(Ambiguous, "#4567")],
        },
        Case {
            name: "bare #N is ambiguous",
            input: "see #4567",
            upstream: Some(gh("util-linux", "util-linux")),
            expected: &[(Ambiguous, "#4567")],
        },
        Case {
            name: "closing keyword names a github issue",
            input: "Fixes #23401.",
            upstream: Some(gh("systemd", "systemd")),
            expected: &[(GithubIssue, "systemd/systemd#23401")],
        },
        Case {
            name: "RHEL convention Resolves: #N is a bug",
            input: "- Resolves: #2040123",
            upstream: Some(gh("util-linux", "util-linux")),
            expected: &[(Rhbz, "2040123")],
        },
        Case {
            name: "rhbz spellings",
            input: "rhbz#2040123, RHBZ #1641478, bz#2044578, rh#2190001, Bug 1234567",
            upstream: None,
            expected: &[
                (Rhbz, "2040123"),
                (Rhbz, "1641478"),
                (Rhbz, "2044578"),
                (Rhbz, "2190001"),
                (Rhbz, "1234567"),
            ],
        },
        Case {
            name: "owner/repo#N without a PR word is ambiguous",
            input: "systemd/systemd#16838",
            upstream: None,
            expected: &[(Ambiguous, "systemd/systemd#16838")],
        },
        Case {
            name: "owner/repo#N with a PR word",
            input: "PR systemd/systemd#16838",
            upstream: None,
            expected: &[(GithubPr, "systemd/systemd#16838")],
        },
        Case {
            name: "openSUSE trackers and GitHub shorthand",
            input: "bnc#123 bsc#1201234 boo#7 gh#systemd/systemd#99",
            upstream: None,
            expected: &[
                (Url, "bnc#123"),
                (Url, "bsc#1201234"),
                (Url, "boo#7"),
                (Ambiguous, "systemd/systemd#99"),
            ],
        },
        Case {
            name: "cve and jira",
            input: "Backport 156a5fd to mitigate CVE-2020-13776; Resolves: RHEL-12345",
            upstream: Some(gh("systemd", "systemd")),
            expected: &[
                (Cve, "CVE-2020-13776"),
                (Jira, "RHEL-12345"),
                (UpstreamCommit, "systemd/systemd@156a5fd"),
            ],
        },
        Case {
            name: "a jira URL names the issue; a release name is no issue",
            input: "see https://issues.redhat.com/browse/RHEL-4242 (RHEL-8 only)",
            upstream: None,
            expected: &[(Jira, "RHEL-4242")],
        },
        Case {
            name: "a hex word without commit context is nothing",
            input: "set the deadbeef1 magic and 0xcafe",
            upstream: Some(gh("o", "r")),
            expected: &[],
        },
        Case {
            name: "versions and dates are nothing",
            input: "Update to 252.23 (2024-10-08), 5 fixes",
            upstream: Some(gh("o", "r")),
            expected: &[],
        },
    ]);
}

#[test]
fn hostile_text_is_handled() {
    let ctx = TextContext::new(None, "t".into(), Role::Origin);
    let long = "#1".repeat(30_000);
    assert!(extract(&long, &ctx).len() <= 30_000);
    let _ = extract("https://", &ctx);
    let _ = extract("https://github.com/", &ctx);
    let _ = extract("https://github.com/a/b/pull/99999999999999999999999", &ctx);
    let _ = extract("https://bugzilla.redhat.com/show_bug.cgi?id=", &ctx);
    let _ = extract("\u{0}\u{7f}PR #\u{202e}12", &ctx);
}

#[test]
fn number_zero_names_nothing() {
    run(&[
        Case {
            name: "pull 0",
            input: "https://github.com/o/x/pull/0",
            upstream: None,
            expected: &[],
        },
        Case {
            name: "pull 000 beside a real one",
            input: "https://github.com/o/x/pull/000 and https://github.com/o/x/pull/7",
            upstream: None,
            expected: &[(RefKind::GithubPr, "o/x#7")],
        },
        Case {
            name: "PR 0 of the upstream",
            input: "PR 0",
            upstream: Some(gh("o", "x")),
            expected: &[],
        },
        Case {
            name: "bug 0",
            input: "rhbz#0",
            upstream: None,
            expected: &[],
        },
    ]);
}
