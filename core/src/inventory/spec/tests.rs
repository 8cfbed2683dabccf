use super::*;

fn parse_str(s: &str) -> (SpecFile, Vec<Warning>) {
    let mut w = Vec::new();
    let spec = parse(s.as_bytes(), "t.spec", &HashMap::new(), &mut w);
    (spec, w)
}

#[test]
fn reads_tags_with_global_and_define() {
    let (s, w) = parse_str(
        "%global ver 2.37\n%define rel 5\nName: util-linux\nVersion: %{ver}.4\nRelease: %{rel}.fb6%{?dist}\n\
         Epoch: 2\nURL: https://github.com/util-linux/util-linux\nSource0: %{url}/archive/v%{version}.tar.gz\n",
    );
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(s.name.as_deref(), Some("util-linux"));
    assert_eq!(s.version.as_deref(), Some("2.37.4"));
    assert_eq!(s.release.as_deref(), Some("5.fb6"));
    assert_eq!(s.epoch.as_deref(), Some("2"));
    assert_eq!(
        s.source0(),
        Some("https://github.com/util-linux/util-linux/archive/v2.37.4.tar.gz")
    );
}

#[test]
fn patch_lines_keep_their_comment_block() {
    let (s, _) = parse_str(
        "Name: x\n# PR 123 - fix\n# second line\nPatch0: a.patch\n\n# for c\nPatch: c.patch\n",
    );
    let p: Vec<_> = s
        .patches
        .iter()
        .map(|p| {
            (
                p.number,
                p.value.as_str(),
                p.comments.len(),
                p.shared_comments,
            )
        })
        .collect();
    assert_eq!(
        p,
        vec![
            (Some(0), "a.patch", 2, false),
            (Some(1), "c.patch", 1, false)
        ]
    );
    assert_eq!(s.patches[0].comments[0], (2, "PR 123 - fix".to_string()));
}

/// A comment with a run of Patch lines right below it speaks for all of them, marked shared
/// (references from it are less sure); a blank line or another comment ends the run.
#[test]
fn a_comment_over_a_run_of_patch_lines_is_shared_by_the_run() {
    // The shape of a real spec: "# Patches remove ... see #15009" above Patch0..Patch4.
    let (s, _) = parse_str(
        "Name: x\n# see #15009\nPatch0: a.patch\nPatch1: b.patch\nPatch2: c.patch\n\nPatch3: d.patch\n# own\nPatch4: e.patch\nPatch5: f.patch\n",
    );
    let p: Vec<_> = s
        .patches
        .iter()
        .map(|p| {
            (
                p.value.as_str(),
                p.comments.first().map(|c| c.1.as_str()),
                p.shared_comments,
            )
        })
        .collect();
    assert_eq!(
        p,
        vec![
            ("a.patch", Some("see #15009"), true),
            ("b.patch", Some("see #15009"), true),
            ("c.patch", Some("see #15009"), true),
            ("d.patch", None, false),
            ("e.patch", Some("own"), true),
            ("f.patch", Some("own"), true),
        ]
    );
    // A comment, a patch, another comment, a patch: each block is its own.
    let (s, _) = parse_str("# rhbz#1\nPatch1: a.patch\n# rhbz#2\nPatch2: b.patch\n");
    let p: Vec<_> = s
        .patches
        .iter()
        .map(|p| (p.comments.len(), p.shared_comments))
        .collect();
    assert_eq!(p, vec![(1, false), (1, false)]);
}

#[test]
fn conditions_known_false_skip_unknown_are_kept_and_marked() {
    let (s, w) = parse_str(
        "Name: x\n%if 0\nPatch1: never.patch\n%else\nPatch2: always.patch\n%endif\n\
         %if 0%{?rhel} >= 9\nPatch3: el9.patch\n%else\nPatch4: other.patch\n%endif\n\
         %ifarch x86_64\nPatch5: x86.patch\n%endif\n",
    );
    assert!(w.is_empty(), "{w:?}");
    let got: Vec<_> = s
        .patches
        .iter()
        .map(|p| (p.value.as_str(), p.condition.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("always.patch", None),
            ("el9.patch", Some("%if 0%{?rhel} >= 9".to_string())),
            ("other.patch", Some("!(%if 0%{?rhel} >= 9)".to_string())),
            ("x86.patch", Some("%ifarch x86_64".to_string())),
        ]
    );
    let mut macros = HashMap::new();
    macros.insert("rhel".to_string(), "9".to_string());
    let mut w = Vec::new();
    let s = parse(
        b"%if 0%{?rhel} >= 9\nPatch3: el9.patch\n%else\nPatch4: other.patch\n%endif\n",
        "t",
        &macros,
        &mut w,
    );
    assert_eq!(s.patches.len(), 1);
    assert_eq!(s.patches[0].condition, None);
}

#[test]
fn patchlist_and_url_patches() {
    let (s, _) = parse_str(
        "Patch3: https://github.com/o/r/pull/9.patch\n%patchlist\n# why\none.patch\n\ntwo.patch\n",
    );
    let got: Vec<_> = s
        .patches
        .iter()
        .map(|p| (p.number, p.value.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some(3), "https://github.com/o/r/pull/9.patch"),
            (Some(4), "one.patch"),
            (Some(5), "two.patch")
        ]
    );
    assert_eq!(s.patches[1].comments.len(), 1);
}

#[test]
fn changelog_lines_carry_their_entry() {
    let (s, _) = parse_str(
        "Name: x\n%changelog\n* Tue Oct 08 2024 A B <a@b> - 252.23-2.hs\n- Backport PR #16803\n\n\
         * Mon Aug 12 2024 A B <a@b> 1.0-1\n- Update\n",
    );
    assert_eq!(s.changelog.len(), 2);
    assert_eq!(s.changelog[0].entry_evr.as_deref(), Some("252.23-2.hs"));
    assert_eq!(s.changelog[0].text, "- Backport PR #16803");
    assert_eq!(s.changelog[1].entry_evr.as_deref(), Some("1.0-1"));
}

#[test]
fn bad_input_gives_warnings_with_lines() {
    let (s, w) = parse_str("Name: x\n%if 1\nPatch1: a.patch\n");
    assert_eq!(s.patches.len(), 1);
    assert_eq!(w.len(), 1);
    assert_eq!(
        (w[0].line, w[0].message.as_str()),
        (Some(2), "%if is never closed by %endif")
    );

    let (_, w) = parse_str("%endif\n%else\n");
    assert_eq!(
        w.iter().map(|w| w.line).collect::<Vec<_>>(),
        vec![Some(1), Some(2)]
    );

    let mut bin = b"Name: x\n".to_vec();
    bin.extend([0u8, 1, 2, 3]);
    let mut w = Vec::new();
    let s = parse(&bin, "bin.spec", &HashMap::new(), &mut w);
    assert_eq!(s, SpecFile::default());
    assert!(w[0].message.contains("binary"));

    let mut w = Vec::new();
    let s = parse(
        b"Name: caf\xe9\nVersion: 1\nPatch0: a.patch\n",
        "latin1.spec",
        &HashMap::new(),
        &mut w,
    );
    assert_eq!(s.patches.len(), 1);
    assert_eq!(w[0].line, Some(1));
    assert!(w[0].message.contains("UTF-8"));

    let long = format!(
        "Name: x\nSummary: {}\nPatch0: a.patch\n",
        "a".repeat(10 * 1024 * 1024)
    );
    let (s, w) = parse_str(&long);
    assert_eq!(s.patches.len(), 1);
    assert_eq!(w[0].line, Some(2));
    assert!(w[0].message.contains("longer than"));
}

#[test]
fn shell_and_lua_are_never_run() {
    let dir = std::env::temp_dir().join(format!("forkdebt-spec-{}", std::process::id()));
    let marker = dir.join("pwned");
    let spec = format!(
        "%global x %(touch {m})\nName: %{{lua: os.execute('touch {m}')}}\nVersion: %(touch {m})\nPatch0: %{{x}}.patch\n",
        m = marker.display()
    );
    let (s, _) = parse_str(&spec);
    assert!(!marker.exists());
    assert_eq!(s.patches.len(), 1);
}
