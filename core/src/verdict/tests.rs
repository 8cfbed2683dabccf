use super::*;
use crate::model::Claim;

fn pkg(version: &str) -> Package {
    Package {
        name: "systemd".into(),
        version: version.into(),
        release: "1.hs".into(),
        ..Package::default()
    }
}

fn pr(id: &str, conf: Confidence) -> Reference {
    Reference {
        kind: RefKind::GithubPr,
        id: id.into(),
        url: Some(format!("https://github.com/{}", id.replace('#', "/pull/"))),
        role: Role::Origin,
        confidence: conf,
        found_in: "t".into(),
        note: None,
    }
}

fn bug(id: &str) -> Reference {
    Reference {
        kind: RefKind::Rhbz,
        id: id.into(),
        url: None,
        role: Role::Origin,
        confidence: Confidence::High,
        found_in: "t".into(),
        note: None,
    }
}

fn patch(refs: Vec<Reference>) -> Patch {
    Patch {
        file: "p.patch".into(),
        refs,
        ..Patch::default()
    }
}

fn ship(f: &mut Facts, nvr: &str, evr: &str) {
    let s = ShippedFact {
        distro: "c9s".into(),
        nvr: nvr.into(),
        evr: Evr::parse(evr),
        from: "koji c9s-candidate".into(),
    };
    f.shipped.insert("c9s/systemd".into(), s);
}

#[test]
fn a_pr_merged_then_released_then_shipped_becomes_droppable() {
    let p = patch(vec![pr("systemd/systemd#16838", Confidence::High)]);
    let mut f = Facts::default();
    f.requests.insert(
        (RefKind::GithubPr, "systemd/systemd#16838".into()),
        RequestFact {
            merged: true,
            merge_commit: Some("3335de9abcdef".into()),
            when: Some("2020-08-20T10:00:00Z".into()),
            ..Default::default()
        },
    );
    assert_eq!(
        decide(&p, &pkg("245"), &f, Some("c9s")).state,
        PatchState::Merged
    );

    f.releases
        .insert("systemd/systemd@3335de9abcdef".into(), "v247".into());
    let v = decide(&p, &pkg("245"), &f, Some("c9s"));
    assert_eq!(v.state, PatchState::Released);
    assert_eq!(v.rebased_past, None);

    ship(&mut f, "systemd-252-14.el9", "252-14.el9");
    let v = decide(&p, &pkg("245"), &f, Some("c9s"));
    assert_eq!(v.state, PatchState::Droppable);
    let chain: Vec<String> = v.evidence.iter().map(Hop::text).collect();
    assert_eq!(
        chain,
        vec![
            "PR systemd/systemd#16838 merged as 3335de9",
            "first in v247",
            "c9s ships systemd-252-14.el9 >= 247 (koji c9s-candidate)"
        ]
    );
    assert_eq!(v.confidence, Confidence::High);

    // Shipping an older version is not enough.
    ship(&mut f, "systemd-246-1.el9", "246-1.el9");
    assert_eq!(
        decide(&p, &pkg("245"), &f, Some("c9s")).state,
        PatchState::Released
    );
    // Our own Version has passed the fix: flagged.
    assert!(
        decide(&p, &pkg("248"), &f, Some("c9s"))
            .rebased_past
            .is_some_and(|s| s.contains("248"))
    );
}

#[test]
fn a_pr_closed_unmerged_is_denied_and_beats_a_submitted_claim() {
    let mut p = patch(vec![pr("o/r#5", Confidence::Medium)]);
    p.claims.push(Claim {
        state: PatchState::Submitted,
        evidence: "Forwarded: https://github.com/o/r/pull/5".into(),
    });
    let mut f = Facts::default();
    f.requests
        .insert((RefKind::GithubPr, "o/r#5".into()), RequestFact::default());
    let v = decide(&p, &pkg("1"), &f, Some("c9s"));
    assert_eq!(v.state, PatchState::Denied);
    assert_eq!(v.evidence[0].text(), "PR o/r#5 closed without merging");
    // Without upstream facts, the claim stands.
    assert_eq!(
        decide(&p, &pkg("1"), &Facts::default(), Some("c9s")).state,
        PatchState::Submitted
    );
}

#[test]
fn bugs_move_with_their_status_and_cf_fixed_in() {
    let p = patch(vec![bug("2100001")]);
    let mut f = Facts::default();
    f.bugs.insert(
        "2100001".into(),
        BugFact {
            status: "CLOSED".into(),
            resolution: Some("ERRATA".into()),
            fixed_in: Some("systemd-252-10.el9".into()),
            changed: None,
        },
    );
    ship(&mut f, "systemd-252-14.el9", "252-14.el9");
    let v = decide(&p, &pkg("252"), &f, Some("c9s"));
    assert_eq!(v.state, PatchState::Droppable, "{v:?}");
    // Reopened: back to submitted.
    f.bugs.insert(
        "2100001".into(),
        BugFact {
            status: "ASSIGNED".into(),
            ..Default::default()
        },
    );
    assert_eq!(
        decide(&p, &pkg("252"), &f, Some("c9s")).state,
        PatchState::Submitted
    );
    // Closed as not a bug: no verdict from it.
    f.bugs.insert(
        "2100001".into(),
        BugFact {
            status: "CLOSED".into(),
            resolution: Some("NOTABUG".into()),
            ..Default::default()
        },
    );
    assert_eq!(
        decide(&p, &pkg("252"), &f, Some("c9s")).state,
        PatchState::Unknown
    );
}

#[test]
fn fixed_in_and_tags_read_as_versions() {
    assert_eq!(
        fixed_in_evr("systemd-252-10.el9", "systemd"),
        Some(Evr::new("", "252", "10.el9"))
    );
    assert_eq!(
        fixed_in_evr("252.4", "systemd"),
        Some(Evr::new("", "252.4", ""))
    );
    assert_eq!(fixed_in_evr("jQuery 3.5.0", "systemd"), None);
    assert_eq!(tag_version("v247").as_deref(), Some("247"));
    assert_eq!(tag_version("util-linux-2.39.1").as_deref(), Some("2.39.1"));
    assert_eq!(tag_version("release_1_2").as_deref(), Some("1.2"));
    assert!(ships(&Evr::parse("252-1.el9"), &Evr::new("", "247", "")));
    assert!(!ships(&Evr::parse("246.9-1.el9"), &Evr::new("", "247", "")));
    assert!(
        ships(&Evr::parse("1:1.0-1"), &Evr::new("", "2.0", "")),
        "a higher epoch wins"
    );
}

fn carried(release: Option<&str>, proof: Option<bool>, how: crate::model::MatchHow) -> Patch {
    use crate::model::{CarriedCommit, Proof, UpstreamMatch};
    Patch {
        file: "core: fix a".into(),
        commit: Some(CarriedCommit {
            sha: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
            branch: "hs-v246".into(),
            upstream: Some(UpstreamMatch {
                sha: "3335de9abcdef0123456789abcdef0123456789a".into(),
                how,
                release: release.map(str::to_string),
                also: Vec::new(),
                proof: proof.zip(release).map(|(empty, tag)| Proof {
                    tag: tag.into(),
                    empty,
                }),
            }),
            revisit: None,
            missing_fixes: Vec::new(),
            notes: Vec::new(),
        }),
        ..Patch::default()
    }
}

#[test]
fn what_the_matcher_saw_is_evidence() {
    // A subject match says how alike the lines are.
    let mut p = carried(None, None, crate::model::MatchHow::Subject);
    if let Some(c) = p.commit.as_mut() {
        c.notes =
            vec!["same subject as upstream 3335de9abcde, 85% of the changed lines alike".into()];
    }
    let v = decide(&p, &pkg("245"), &Facts::default(), None);
    assert!(
        chain_of(&v).contains("85% of the changed lines alike"),
        "{}",
        chain_of(&v)
    );
    // An unmatched commit naming an id upstream never had says so.
    if let Some(c) = p.commit.as_mut() {
        c.upstream = None;
        c.notes = vec!["the message names 0badc0ffee12, which upstream does not have (a PR-branch or downstream sha?)".into()];
    }
    let v = decide(&p, &pkg("245"), &Facts::default(), None);
    assert!(
        chain_of(&v).contains("0badc0ffee12, which upstream does not have"),
        "{}",
        chain_of(&v)
    );
}

#[test]
fn a_carried_commit_is_droppable_only_with_its_merge_tree_proof() {
    use crate::model::MatchHow;
    let mut f = Facts::default();
    ship(&mut f, "systemd-252-14.el9", "252-14.el9");
    let v = decide(
        &carried(Some("v247"), Some(true), MatchHow::PatchId),
        &pkg("246"),
        &f,
        Some("c9s"),
    );
    assert_eq!(v.state, PatchState::Droppable);
    assert_eq!(v.confidence, Confidence::High);
    let chain = chain_of(&v);
    assert!(
        chain.contains("is upstream 3335de9abcde (by patch-id)"),
        "{chain}"
    );
    assert!(chain.contains("applies as empty onto v247"), "{chain}");
    assert!(
        chain.contains("c9s ships systemd-252-14.el9 >= 247"),
        "{chain}"
    );

    // The change differs from the release's: released, never droppable.
    let v = decide(
        &carried(Some("v247"), Some(false), MatchHow::Content),
        &pkg("246"),
        &f,
        Some("c9s"),
    );
    assert_eq!(v.state, PatchState::Released);
    assert_eq!(v.confidence, Confidence::Medium);
    assert!(chain_of(&v).contains("does not apply as empty onto v247"));

    // In no release yet: merged. Our own version past the release: rebased past.
    let v = decide(
        &carried(None, None, MatchHow::Trailer),
        &pkg("246"),
        &f,
        Some("c9s"),
    );
    assert_eq!(v.state, PatchState::Merged);
    let v = decide(
        &carried(Some("v247"), Some(true), MatchHow::Subject),
        &pkg("250"),
        &Facts::default(),
        Some("c9s"),
    );
    assert_eq!(v.state, PatchState::Released);
    assert_eq!(v.confidence, Confidence::Low);
    assert!(v.rebased_past.is_some());
}

#[test]
fn a_revisit_commit_is_unknown_with_the_reason() {
    let mut p = carried(None, None, crate::model::MatchHow::Subject);
    if let Some(c) = p.commit.as_mut() {
        c.upstream = None;
        c.revisit =
            Some("same subject as upstream 3335de9abcde but only 20% alike: revisit".into());
    }
    let v = decide(&p, &pkg("246"), &Facts::default(), Some("c9s"));
    assert_eq!(v.state, PatchState::Unknown);
    assert!(chain_of(&v).contains("revisit"));
    assert!(!p.is_local_only());
}

fn chain_of(v: &Verdict) -> String {
    crate::evidence::chain_text(&v.evidence)
}
