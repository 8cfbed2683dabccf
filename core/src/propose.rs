//! Proposals: a droppable patch turned into a spec edit a human reviews — the `PatchN:` line,
//! its `%patch` application, the comment that belongs only to it removed; `Release` bumped
//! (the local marker kept, `%autorelease` left alone); a `%changelog` entry with the evidence
//! (none under `%autochangelog`). Pure text: the caller commits it on a branch.

use regex::Regex;

/// The spec after dropping a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    pub text: String,
    pub release_before: String,
    pub release_after: String,
    /// The `PatchN` number that was removed (its `%patch` lines went with it).
    pub number: Option<u32>,
}

/// What the `%changelog` entry says.
pub struct Entry<'a> {
    /// `Fri Nov 27 2026`.
    pub date: &'a str,
    /// `forkdebt <forkdebt@example.org>`.
    pub author: &'a str,
    /// `Version` as the spec resolves it (for the entry's `- V-R`).
    pub version: &'a str,
    /// One line: "Drop 0001-foo.patch: merged upstream as ..., c9s ships ...".
    pub text: &'a str,
}

static_regex!(PATCH_TAG, r"(?i)^Patch(\d*)\s*:\s*(\S+)");
static_regex!(RELEASE_TAG, r"(?i)^(Release\s*:\s*)(.*?)\s*$");
static_regex!(LEADING_NUMBER, r"^(\d+)");

/// Text from anywhere but the spec itself (evidence, versions from Koji or repodata, PR
/// titles, names) made literal for rpm: every `%` doubled, so `%{lua:...}` or `%(...)` in
/// upstream data is printed, never run, by `rpmspec` or `rpmbuild`; control characters
/// (a NUL makes the file binary, a newline starts a new changelog entry) become spaces.
pub fn spec_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' => out.push_str("%%"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The macro uses in `text` as rpm would see them (`%name`, `%{...}`, `%(...)`, `%[...]`;
/// `%%` is a literal percent sign): a spec we write must use no macro its input did not.
pub fn macro_uses(text: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'%') => i += 2,
            Some(&open @ (b'{' | b'(' | b'[')) => {
                let close = match open {
                    b'{' => b'}',
                    b'(' => b')',
                    _ => b']',
                };
                // rpm reads a macro within its line: an unterminated one ends there.
                let mut depth = 0usize;
                let mut j = i + 1;
                while j < b.len() && b[j] != b'\n' {
                    if b[j] == open {
                        depth += 1;
                    } else if b[j] == close {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    j += 1;
                }
                let end = if j < b.len() && b[j] != b'\n' {
                    j + 1
                } else {
                    j
                };
                // (An unterminated one is the same use with or without trailing blanks.)
                out.insert(String::from_utf8_lossy(&b[i..end]).trim_end().to_string());
                i = end;
            }
            Some(c) if c.is_ascii_alphabetic() || *c == b'_' || *c == b'?' || *c == b'!' => {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b"_?!".contains(&b[j])) {
                    j += 1;
                }
                out.insert(String::from_utf8_lossy(&b[i..j]).into_owned());
                i = j;
            }
            _ => i += 1,
        }
    }
    out
}

/// Drops `file` from `spec`. The Patch line is found as the scanner finds it (macros
/// expanded: `Patch9: %{name}-fix.patch`, URLs with a `#/local` name).
///
/// # Errors
/// The spec names no such patch.
pub fn drop_patch(spec: &str, file: &str, entry: Option<&Entry<'_>>) -> Result<Edited, String> {
    let lines: Vec<&str> = spec.split_inclusive('\n').collect();
    let mut warnings = Vec::new();
    let parsed = crate::inventory::spec::parse(
        spec.as_bytes(),
        "spec",
        &std::collections::HashMap::new(),
        &mut warnings,
    );
    let found = parsed
        .patches
        .iter()
        .find(|p| crate::inventory::spec::patch_file_name(&p.value) == file || p.value == file)
        .ok_or_else(|| format!("the spec has no Patch line for `{file}`"))?;
    let target = usize::try_from(found.line)
        .ok()
        .and_then(|l| l.checked_sub(1))
        .filter(|i| *i < lines.len())
        .ok_or_else(|| format!("the spec's Patch line for `{file}` is past its end"))?;
    let number = found.number;
    let mut remove = vec![false; lines.len()];
    remove[target] = true;
    // A `\`-continued Patch line goes whole.
    let mut last = target;
    while lines[last].trim_end().ends_with('\\') && last + 1 < lines.len() {
        last += 1;
        remove[last] = true;
    }
    // The comment right above belongs to this patch only when the next line is not another
    // Patch line (a comment over a run of Patch lines speaks for all of them).
    let next_is_patch = lines
        .get(last + 1)
        .is_some_and(|l| PATCH_TAG.is_match(l.trim_end()));
    let prev_is_patch = target > 0 && PATCH_TAG.is_match(lines[target - 1].trim_end());
    // A line a backslash continues into is part of the line before it: removing it would
    // join that line with the next one (a `%changelog` swallowed into a comment).
    let continued = |i: usize| i > 0 && lines[i - 1].trim_end().ends_with('\\');
    if !next_is_patch && !prev_is_patch && !found.shared_comments {
        let mut i = target;
        while i > 0 && lines[i - 1].trim_start().starts_with('#') && !continued(i - 1) {
            i -= 1;
            remove[i] = true;
        }
        // A blank line left doubled is folded.
        let blank_before = i > 0 && lines[i - 1].trim().is_empty();
        let blank_after = lines.get(last + 1).is_some_and(|l| l.trim().is_empty());
        if blank_before && blank_after {
            remove[last + 1] = true;
        }
    }
    // `%patch -P N`, `%patch N`, `%patchN`, `%patch -PN`: this patch's own application.
    if let Some(n) = number {
        let own = Regex::new(&format!(
            r"^\s*%patch(?:{n}\b|\s+(?:-\S+\s+)*-P\s*{n}\b|\s+(?:-\S+\s+)*{n}\b)"
        ))
        .map_err(|e| e.to_string())?;
        // Only in %prep: in %patchlist a line reading `%patch -P 1` is a file name.
        let mut in_prep = false;
        for (i, l) in lines.iter().enumerate() {
            if let Some(section) = section_of(&lines, i) {
                in_prep = section == "prep";
                continue;
            }
            if in_prep && own.is_match(l) && !continued(i) && !l.trim_end().ends_with('\\') {
                remove[i] = true;
            }
        }
    }
    let mut out = String::with_capacity(spec.len());
    let mut release_before = String::new();
    let mut release_after = String::new();
    let mut autochangelog = false;
    // Where the entry goes: right after the `%changelog` line.
    let mut changelog_at = None;
    // `Release:` is a tag of the main preamble only (elsewhere, say in %patchlist, a line
    // reading so is something else).
    let mut in_preamble = true;
    for (i, l) in lines.iter().enumerate() {
        if remove[i] {
            continue;
        }
        let section = section_of(&lines, i);
        if section.is_some() {
            in_preamble = false;
        }
        if l.trim() == "%autochangelog" {
            autochangelog = true;
        }
        if in_preamble
            && release_before.is_empty()
            && let Some(c) = RELEASE_TAG.captures(l.trim_end())
        {
            release_before = c[2].to_string();
            release_after = bump(&release_before);
            out.push_str(&c[1]);
            out.push_str(&release_after);
            out.push('\n');
            continue;
        }
        out.push_str(l);
        if section == Some("changelog") && changelog_at.is_none() {
            if !out.ends_with('\n') {
                out.push('\n');
            }
            changelog_at = Some(out.len());
        }
    }
    if let Some(e) = entry.filter(|_| !autochangelog)
        && let Some(at) = changelog_at
    {
        // The release as the spec resolves it (`%{?dist}` and other undefined macros gone),
        // bumped; written as data like everything else in the entry.
        let release = bump(parsed.release.as_deref().unwrap_or(&release_before));
        let item = format!(
            "* {} {} - {}-{}\n- {}\n\n",
            spec_literal(e.date),
            spec_literal(e.author),
            spec_literal(e.version),
            spec_literal(release.trim()),
            spec_literal(e.text)
        );
        out.insert_str(at, &item);
    }
    Ok(Edited {
        text: out,
        release_before,
        release_after,
        number,
    })
}

/// The section line `i` starts (`%prep`, `%patchlist`...), as the scanner reads section
/// markers: not on a line that continues the one before it (`\`).
fn section_of<'a>(lines: &[&'a str], i: usize) -> Option<&'a str> {
    if i > 0 && lines[i - 1].trim_end().ends_with('\\') {
        return None;
    }
    let word = lines[i]
        .trim_end()
        .strip_prefix('%')?
        .split(|c: char| c.is_whitespace())
        .next()?;
    crate::inventory::spec::SECTIONS
        .contains(&word)
        .then_some(word)
}

/// `2.hs%{?dist}` -> `3.hs%{?dist}`; `%autorelease` is rpmautospec's to count.
pub fn bump(release: &str) -> String {
    if release.contains("%autorelease") {
        return release.to_string();
    }
    match LEADING_NUMBER.captures(release) {
        Some(c) => {
            let n: u64 = c[1].parse().unwrap_or(0);
            format!("{}{}", n + 1, &release[c[1].len()..])
        }
        None => release.to_string(),
    }
}

/// The wikitext of a Fedora Change proposal, prefilled from a policy deviation, for a human to
/// finish and submit (the sections of Fedora's Change page template).
pub fn change_draft(d: &crate::model::Deviation, downstream: &str) -> String {
    let packages = d.package.clone().unwrap_or_else(|| "(none named)".into());
    let refs: Vec<String> = d
        .refs
        .iter()
        .map(|r| format!("* {} {}", r.kind, r.id))
        .collect();
    format!(
        "= {name} =\n\n\
         == Summary ==\n{desc}\n\n\
         == Owner ==\n* Name: [[User:FASAccountName| Your Name]]\n* Email: <your email address>\n\n\
         == Current status ==\n[[Category:ChangePageIncomplete]]\n* Targeted release: [[Releases/FIXME | Fedora FIXME]]\n\
         * Last updated: <!-- this is an automatic macro — you don't need to change this line -->  {{{{REVISIONTIMESTAMP}}}}\n\
         * FESCo issue: <will be assigned by the Wrangler>\n* Tracker bug: <will be assigned by the Wrangler>\n\
         * Release notes tracker: <will be assigned by the Wrangler>\n\n\
         == Detailed Description ==\n{desc}\n\nThe {downstream} downstream carries this as a policy deviation \
         (`{name}` in forkdebt-inventory.toml); making it Fedora's default would retire it.\n\n\
         == Feedback ==\n\n\
         == Benefit to Fedora ==\n<!-- What {downstream} gains, and why Fedora users would too. -->\n\n\
         == Scope ==\n* Proposal owners: change the default in {packages}.\n* Other developers: N/A\n\
         * Release engineering: N/A\n* Policies and guidelines: N/A\n* Trademark approval: N/A\n\n\
         == Upgrade/compatibility impact ==\n<!-- What happens to existing installations. -->\n\n\
         == How To Test ==\n<!-- How to check the new default on a fresh install and after an upgrade. -->\n\n\
         == User Experience ==\n\n\
         == Dependencies ==\n{packages}\n\n\
         == Contingency Plan ==\n* Contingency mechanism: revert the default in {packages}\n\
         * Contingency deadline: beta freeze\n* Blocks release? No\n\n\
         == Documentation ==\n{refs}\n\n\
         == Release Notes ==\n",
        name = d.name,
        desc = d.description.trim(),
        refs = if refs.is_empty() {
            "N/A".to_string()
        } else {
            refs.join("\n")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "Name: foo\nVersion: 1.0\nRelease: 2.hs%{?dist}\n\n# Fix A, from upstream PR 12\nPatch1: 0001-a.patch\n\n# Shared comment\nPatch2: 0002-b.patch\nPatch3: 0003-c.patch\n\n%prep\n%setup -q\n%patch -P 1 -p1\n%patch2 -p1\n%patch 3 -p1\n\n%changelog\n* Mon Nov 02 2026 A <a@x> - 1.0-2.hs\n- old\n";

    #[test]
    fn drops_the_line_its_comment_and_its_application() {
        let e = drop_patch(
            SPEC,
            "0001-a.patch",
            Some(&Entry {
                date: "Fri Nov 27 2026",
                author: "forkdebt <forkdebt@example.org>",
                version: "1.0",
                text: "Drop 0001-a.patch: merged upstream",
            }),
        )
        .expect("edit");
        assert!(!e.text.contains("0001-a.patch\n"));
        assert!(!e.text.contains("Fix A"));
        assert!(!e.text.contains("%patch -P 1"));
        assert!(e.text.contains("%patch2 -p1") && e.text.contains("%patch 3 -p1"));
        assert!(e.text.contains("Release: 3.hs%{?dist}"));
        assert!(e.text.contains(
            "%changelog\n* Fri Nov 27 2026 forkdebt <forkdebt@example.org> - 1.0-3.hs\n- Drop 0001-a.patch: merged upstream\n\n* Mon Nov 02"
        ), "{}", e.text);
        // A comment over a run of patches stays.
        let e = drop_patch(SPEC, "0002-b.patch", None).expect("edit");
        assert!(e.text.contains("# Shared comment\nPatch3"));
        assert!(!e.text.contains("%patch2"));
    }

    #[test]
    fn patch_lines_are_found_after_macro_expansion() {
        let spec = "Name: foo\nVersion: 1.0\nRelease: 1\n%global fix fix\n\n# Ours\nPatch9: %{name}-%{fix}.patch\n\n\
                    Patch10: https://github.com/o/r/commit/abc.patch#./no-custom-parsing.patch\n\n%prep\n%patch -P9 -p1\n%patch -P10 -p1\n";
        let e = drop_patch(spec, "foo-fix.patch", None).expect("found by its expanded name");
        assert_eq!(e.number, Some(9));
        assert!(
            !e.text.contains("Patch9") && !e.text.contains("# Ours"),
            "{}",
            e.text
        );
        assert!(
            !e.text.contains("%patch -P9 ") && e.text.contains("%patch -P10"),
            "{}",
            e.text
        );
        let e = drop_patch(spec, "no-custom-parsing.patch", None).expect("a #./ fragment");
        assert_eq!(e.number, Some(10));
        assert!(!e.text.contains("Patch10") && e.text.contains("Patch9"));
        assert!(drop_patch(spec, "other.patch", None).is_err());
    }

    #[test]
    fn upstream_text_is_written_as_data() {
        let hostile = "c9s ships foo-2.0-1.el9%{lua:os.execute('touch /tmp/pwned')}%(touch /tmp/pwned2) %{?dist} %%{x} 100%";
        let e = drop_patch(
            SPEC,
            "0001-a.patch",
            Some(&Entry {
                date: "Fri Nov 27 2026",
                author: "forkdebt <a%(id)@example.org>",
                version: "1.0%{lua:x}",
                text: hostile,
            }),
        )
        .expect("edit");
        assert!(
            e.text
                .contains("%%{lua:os.execute('touch /tmp/pwned')}%%(touch /tmp/pwned2)"),
            "{}",
            e.text
        );
        assert!(
            macro_uses(&e.text).is_subset(&macro_uses(SPEC)),
            "{:?}",
            macro_uses(&e.text)
        );
        // A NUL (found by the fuzzer) or a line break in upstream text breaks nothing.
        let e = drop_patch(
            SPEC,
            "0001-a.patch",
            Some(&Entry {
                date: "d",
                author: "a\u{0}b",
                version: "1",
                text: "x\n* Mon Jan 01 2024 evil - 1-1\r\n- y",
            }),
        )
        .expect("edit");
        assert!(!e.text.contains('\u{0}') && !e.text.contains("\n* Mon Jan 01 2024 evil"));
        // An unterminated macro ends with its line (found by the fuzzer).
        assert!(macro_uses("%{?x: 1\n%{y}").contains("%{y}"));
        assert!(macro_uses("%{lua:x} %(id) %%{no} %name %{?dist}").contains("%{lua:x}"));
        assert!(!macro_uses("%%{no}").iter().any(|m| m.contains("no")));
    }

    #[test]
    fn a_line_a_backslash_continues_into_stays() {
        // Found by the fuzzer: the comment above the patch is the tail of a continued line;
        // removing it would join that line with `%changelog` and end the changelog.
        let spec = "Name: x\n#.\\\nPat\\\n# c\nPatch0: a.patch\n%changelog\n* Mon Jan 01 2024 A <a> - 1-1\n- y\nPatch1: b.patch\n";
        let e = drop_patch(spec, "a.patch", None).expect("edit");
        assert!(e.text.contains("Pat\\\n# c\n%changelog"), "{}", e.text);
        let mut w = Vec::new();
        let after =
            crate::inventory::spec::parse(e.text.as_bytes(), "f", &Default::default(), &mut w);
        assert!(after.patches.is_empty(), "{:?}", after.patches);
    }

    #[test]
    fn release_bumps_keep_markers_and_autorelease() {
        assert_eq!(bump("2.hs%{?dist}"), "3.hs%{?dist}");
        assert_eq!(bump("1%{?dist}.fb6"), "2%{?dist}.fb6");
        assert_eq!(bump("%autorelease"), "%autorelease");
        assert_eq!(bump("100.hs1"), "101.hs1");
        let auto = "Name: x\nRelease: %autorelease\nPatch0: a.patch\n%changelog\n%autochangelog\n";
        let e = drop_patch(
            auto,
            "a.patch",
            Some(&Entry {
                date: "d",
                author: "a",
                version: "1",
                text: "t",
            }),
        )
        .expect("edit");
        assert_eq!(
            e.text,
            "Name: x\nRelease: %autorelease\n%changelog\n%autochangelog\n"
        );
    }
}
