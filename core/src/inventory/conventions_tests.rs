//! The Fedora packaging conventions the scanner reads, each with the real line it came from
//! (from the hand-labelled sample of Fedora specs and from `../shared/corpus/fedora-specs`).

use super::*;
use crate::model::{RefKind, UpstreamProject};

fn other(url: &str) -> UpstreamProject {
    UpstreamProject::Other { url: url.into() }
}

fn github(owner: &str, repo: &str) -> UpstreamProject {
    UpstreamProject::Github {
        owner: owner.into(),
        repo: repo.into(),
    }
}

/// `(kind, id, role)` of what `line` names.
fn found(
    line: &str,
    up: Option<&UpstreamProject>,
    changelog: bool,
) -> Vec<(RefKind, String, Role)> {
    let mut ctx = TextContext::new(up, "t".into(), Role::Origin);
    ctx.changelog = changelog;
    refs::extract(line, &ctx)
        .into_iter()
        .map(|r| (r.kind, r.id, r.role))
        .collect()
}

fn ids(line: &str, up: Option<&UpstreamProject>, changelog: bool) -> Vec<(RefKind, String)> {
    found(line, up, changelog)
        .into_iter()
        .map(|(k, id, _)| (k, id))
        .collect()
}

/// Scans one package folder holding `spec` (and nothing else) and returns the package.
fn scan_one(spec: &str) -> Package {
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = dir.path().join("rpms/p");
    std::fs::create_dir_all(&pkg).expect("mkdir");
    std::fs::write(pkg.join("p.spec"), spec).expect("spec");
    let inv = scan(&[dir.path().to_path_buf()], &ScanOptions::default());
    inv.packages.into_iter().next().expect("one package")
}

fn refs_of(p: &Patch) -> Vec<String> {
    let mut v: Vec<String> = p
        .refs
        .iter()
        .map(|r| format!("{} {}", r.kind.as_str(), r.id))
        .collect();
    v.sort();
    v
}

#[test]
fn a_hash_number_in_a_fedora_changelog_is_a_red_hat_bug() {
    let line = "- fix autostart.patch (#2001664)";
    assert_eq!(ids(line, None, true), [(RefKind::Rhbz, "2001664".into())]);
    // Outside %changelog the magnitude rule still reads it, less surely.
    assert_eq!(ids(line, None, false), [(RefKind::Rhbz, "2001664".into())]);
}

#[test]
fn a_changelog_line_names_its_patch_by_a_short_name_or_a_word() {
    let spec = "Name: p\nVersion: 1\nRelease: 1\n\
        Patch0: p-1.2-autostart.patch\nPatch1: p-openssl4.patch\nPatch2: p-other.patch\n\
        %changelog\n* Mon Aug 01 2026 A <a@b> - 1-1\n\
        - fix autostart.patch (#2001664)\n\
        - add patch for openssl4 (#2504317)\n\
        - rebuild (#2504318)\n";
    let p = scan_one(spec);
    assert_eq!(refs_of(&p.patches[0]), ["rhbz 2001664"]);
    assert_eq!(refs_of(&p.patches[1]), ["rhbz 2504317"]);
    assert!(p.patches[2].refs.is_empty());
    // A line about no patch keeps its bug on the package.
    assert!(p.changelog_refs.iter().any(|r| r.id == "2504318"));
}

#[test]
fn a_changelog_line_listing_cves_gives_each_to_the_patch_that_names_it() {
    let spec = "Name: p\nVersion: 1\nRelease: 1\n\
        Patch0: p-CVE-2024-1111.patch\nPatch1: p-CVE-2024-2222.patch\n\
        %changelog\n* Mon Aug 01 2026 A <a@b> - 1-1\n\
        - fix CVE-2024-1111 and CVE-2024-2222 (#2300001)\n";
    let p = scan_one(spec);
    assert_eq!(refs_of(&p.patches[0]), ["cve CVE-2024-1111"]);
    assert_eq!(refs_of(&p.patches[1]), ["cve CVE-2024-2222"]);
    // The bug is about both: it stays on the package.
    assert!(p.changelog_refs.iter().any(|r| r.id == "2300001"));
}

#[test]
fn a_patch_number_in_the_changelog_names_that_patch() {
    let spec = "Name: p\nVersion: 1\nRelease: 1\nURL: https://github.com/o/r\n\
        Patch1002: p-thing.patch\n\
        %changelog\n* Mon Aug 01 2026 A <a@b> - 1-1\n\
        - Patch1002: backport #11778\n";
    let p = scan_one(spec);
    assert_eq!(refs_of(&p.patches[0]), ["ambiguous #11778"]);
    assert_eq!(p.patches[0].claims[0].state, PatchState::Merged);
}

#[test]
fn comments_beside_and_above_patch_lines_in_prep_are_read() {
    // perl.spec's form, and qt3.spec's backup suffix naming the bug.
    let spec = "Name: p\nVersion: 1\nRelease: 1\nURL: https://metacpan.org/release/p\n\
        Patch3: p-a.patch\nPatch27: p-b.patch\nPatch5: p-c.patch\n\
        %prep\n%setup -q\n\
        %patch -P 3 -p1 # (#1076390, #1127577, CPAN RT#97816)\n\
        %patch -P27 -p1 -b .fontrendering-ml_IN-bz#209097\n\
        # Upstream patch, see rhbz#1234567\n\
        %patch5 -p1\n";
    let p = scan_one(spec);
    assert_eq!(
        refs_of(&p.patches[0]),
        ["rhbz 1076390", "rhbz 1127577", "url rt.cpan.org#97816"]
    );
    assert_eq!(refs_of(&p.patches[1]), ["rhbz 209097"]);
    assert_eq!(refs_of(&p.patches[2]), ["rhbz 1234567"]);
    assert_eq!(p.patches[2].claims[0].state, PatchState::Merged);
}

#[test]
fn one_comment_over_several_patch_lines_goes_to_each_less_surely() {
    let spec = "Name: p\nVersion: 1\nRelease: 1\nURL: https://github.com/o/r\n\
        # Patches remove the bundled copies, see #15009\n\
        Patch0: a.patch\nPatch1: b.patch\nPatch2: c.patch\n\n\
        # PR 12\nPatch3: d.patch\n";
    let p = scan_one(spec);
    for patch in &p.patches[..3] {
        assert_eq!(refs_of(patch), ["ambiguous #15009"], "{}", patch.file);
    }
    assert_eq!(refs_of(&p.patches[3]), ["github-pr o/r#12"]);
    assert_eq!(p.patches[3].refs[0].confidence, Confidence::Medium);
    // The shared one is at most medium; a URL right above one patch would be high.
    assert!(p.patches[0].refs[0].confidence <= Confidence::Medium);
}

#[test]
fn project_trackers_are_read_by_their_own_names() {
    let cpython = other("https://www.python.org/");
    assert_eq!(
        ids("gh-127906: fix the zipfile path", Some(&cpython), false),
        [(RefKind::GithubIssue, "python/cpython#127906".into())]
    );
    assert_eq!(
        ids("Backport of GH-28549", Some(&cpython), false),
        [(RefKind::GithubPr, "python/cpython#28549".into())]
    );
    assert_eq!(
        ids("bpo-1596321: KeyError at exit", Some(&cpython), false),
        [(RefKind::Url, "bpo#1596321".into())]
    );
    let firefox = other("https://www.mozilla.org/firefox/");
    assert_eq!(
        ids("mozilla#1512162", Some(&firefox), false),
        [(RefKind::Url, "bmo#1512162".into())]
    );
    assert_eq!(
        ids("Fix for bug 1512162", Some(&firefox), false),
        [(RefKind::Url, "bmo#1512162".into())]
    );
    let cpan = other("https://metacpan.org/release/App-a2p");
    // perl-App-a2p.spec
    assert_eq!(
        ids(
            "Fix a buffer overflow when parsing long enough -n argument, CPAN RT#100361",
            Some(&cpan),
            false
        ),
        [(RefKind::Url, "rt.cpan.org#100361".into())]
    );
    // perl.spec: perl's own RT.
    let perl = other("https://www.perl.org/");
    assert_eq!(
        ids(
            "Make *DBM_File desctructors thread-safe, bug #1107543, RT#61912",
            Some(&perl),
            false
        ),
        [
            (RefKind::Url, "rt.perl.org#61912".into()),
            (RefKind::Rhbz, "1107543".into())
        ]
    );
    assert_eq!(
        ids("LP: #1978612", None, false),
        [(RefKind::Url, "lp#1978612".into())]
    );
    // libkkc.spec
    assert_eq!(
        ids("- new upstream release (Closes: #970863)", None, true),
        [(RefKind::Url, "debian#970863".into())]
    );
    // timidity++.spec, gtk2-engines.spec, man-pages.spec
    assert_eq!(
        ids(
            "# https://bugs.debian.org/cgi-bin/bugreport.cgi?bug=999709",
            None,
            false
        ),
        [(RefKind::Url, "debian#999709".into())]
    );
    assert_eq!(
        ids(
            "- It was in fact a missing copy method. See gnome bug 338826.",
            None,
            true
        ),
        [(RefKind::Url, "bugzilla.gnome.org#338826".into())]
    );
    assert_eq!(
        ids(
            "https://bugzilla.kernel.org/show_bug.cgi?id=53781",
            None,
            false
        ),
        [(RefKind::Url, "bugzilla.kernel.org#53781".into())]
    );
}

#[test]
fn a_bare_number_after_resolves_or_fix_for_is_a_red_hat_bug() {
    // busybox.spec, atlas.spec, nagios-plugins.spec, mdadm.spec
    assert_eq!(
        ids("- Resolves: 234769", None, true),
        [(RefKind::Rhbz, "234769".into())]
    );
    assert_eq!(
        ids("Related: 1951565", None, true),
        [(RefKind::Rhbz, "1951565".into())]
    );
    assert_eq!(
        ids("- Fix for 250588", None, true),
        [(RefKind::Rhbz, "250588".into())]
    );
    let list: Vec<String> = ids(
        "- Resolves: 633229, 656620. 679843, 671076, 659933",
        None,
        true,
    )
    .into_iter()
    .map(|(_, id)| id)
    .collect();
    assert_eq!(list, ["633229", "656620", "679843", "671076", "659933"]);
}

#[test]
fn a_patch_url_fragment_names_the_local_file_and_the_pr_is_read() {
    // python-autocommand.spec
    let spec = "Name: p\nVersion: 1\nRelease: 1\nURL: https://github.com/Lucretiel/autocommand\n\
        Patch: %{url}/pull/33.patch#/001-setuptools-fix.patch\n";
    let p = scan_one(spec);
    assert_eq!(p.patches[0].file, "001-setuptools-fix.patch");
    assert_eq!(
        refs_of(&p.patches[0]),
        ["github-pr Lucretiel/autocommand#33"]
    );
}

#[test]
fn status_words_are_the_patch_s_claim_and_invent_no_reference() {
    let spec = "Name: p\nVersion: 1\nRelease: 1\n\
        # Upstream patch\nPatch0: a.patch\n\n\
        # sent upstream\nPatch1: b.patch\n\n\
        # Fedora-specific\nPatch2: c.patch\n\n\
        # Fix the build\nPatch3: d.patch\n";
    let p = scan_one(spec);
    let states: Vec<PatchState> = p.patches.iter().map(Patch::inventory_state).collect();
    assert_eq!(
        states,
        [
            PatchState::Merged,
            PatchState::Submitted,
            PatchState::NotNeeded,
            PatchState::NotSent
        ]
    );
    assert!(p.patches.iter().all(|p| p.refs.is_empty()));
    let local: Vec<bool> = p.patches.iter().map(Patch::is_local_only).collect();
    assert_eq!(local, [false, false, false, true]);
}

#[test]
fn forge_file_name_prefixes_are_read_and_quilt_numbers_are_not() {
    let up = github("containers", "podman");
    let ctx = TextContext::new(Some(&up), "f".into(), Role::Origin);
    let names = |f: &str| -> Vec<String> {
        filename::refs(f, &ctx)
            .into_iter()
            .map(|r| format!("{} {}", r.kind.as_str(), r.id))
            .collect()
    };
    assert_eq!(
        names("15551-fix-namespace-check.patch"),
        ["github-pr containers/podman#15551"]
    );
    assert_eq!(
        names("16838_16857_x.patch"),
        [
            "github-pr containers/podman#16838",
            "github-pr containers/podman#16857"
        ]
    );
    assert_eq!(
        names("156a5fd-fix-foo.patch"),
        ["upstream-commit containers/podman@156a5fd"]
    );
    assert!(names("10_update_cmake.patch").is_empty());
    assert!(names("0003-foo.patch").is_empty());
    assert!(names("2019-fix-dates.patch").is_empty());
    // Without a forge, a leading number is nobody's pull request.
    let none = TextContext::new(None, "f".into(), Role::Origin);
    assert!(filename::refs("15551-fix-namespace-check.patch", &none).is_empty());
    assert_eq!(
        filename::refs("mozilla-2034301.patch", &none)[0].id,
        "bmo#2034301"
    );
}

#[test]
fn a_revert_names_what_it_undoes_with_the_reverts_role() {
    let up = github("systemd", "systemd");
    assert_eq!(
        found(
            "revert c58fd46 until rhbz#2100546 is fixed",
            Some(&up),
            false
        ),
        [
            (RefKind::Rhbz, "2100546".into(), Role::Origin),
            (
                RefKind::UpstreamCommit,
                "systemd/systemd@c58fd46".into(),
                Role::Reverts
            ),
        ]
    );
    assert_eq!(
        found(
            "This reverts commit 156a5fd297b61bce31630d7a52c15614bf784843.",
            Some(&up),
            false
        ),
        [(
            RefKind::UpstreamCommit,
            "systemd/systemd@156a5fd297b61bce31630d7a52c15614bf784843".into(),
            Role::Reverts
        )]
    );
}

#[test]
fn a_stray_spec_copy_under_sources_does_not_shadow_the_real_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = dir.path().join("rpms/p");
    std::fs::create_dir_all(pkg.join("SOURCES")).expect("mkdir");
    std::fs::write(pkg.join("p.spec"), "Name: p\nVersion: 2\nRelease: 1\n").expect("spec");
    std::fs::write(
        pkg.join("SOURCES/p.spec"),
        "Name: p\nVersion: 1\nRelease: 1\n",
    )
    .expect("old");
    let inv = scan(&[dir.path().to_path_buf()], &ScanOptions::default());
    assert_eq!(inv.packages.len(), 1);
    assert_eq!(inv.packages[0].version, "2");
    assert!(
        inv.warnings
            .iter()
            .any(|w| w.path.ends_with("SOURCES/p.spec") && w.message.contains("stray copy")),
        "{:?}",
        inv.warnings
    );
}

#[test]
fn if_lines_inside_a_continued_shell_command_are_conditionals() {
    // ardour9.spec's shape: rpm evaluates each physical %if line.
    let spec = "Name: p\nVersion: 1\nRelease: 1\nPatch0: a.patch\n%build\n./waf configure \\\n\
        %if %{with x}\n    --with-x \\\n%endif\n    --prefix=/usr\n\
        %if 0\nPatch9: never.patch\n%endif\n";
    let mut warnings = Vec::new();
    let parsed = spec::parse(spec.as_bytes(), "p.spec", &HashMap::new(), &mut warnings);
    assert!(
        !warnings.iter().any(|w| w.message.contains("never closed")),
        "{warnings:?}"
    );
    assert_eq!(parsed.patches.len(), 1);
}
