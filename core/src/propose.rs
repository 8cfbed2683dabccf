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

fn base_name(value: &str) -> &str {
    let value = value.split_once("#/").map_or(value, |(_, local)| local);
    let no_query = value.split(['?']).next().unwrap_or(value);
    no_query.rsplit('/').next().unwrap_or(no_query)
}

/// Drops `file` from `spec`; `None` number matches the file by name only.
///
/// # Errors
/// The spec names no such patch.
pub fn drop_patch(spec: &str, file: &str, entry: Option<&Entry<'_>>) -> Result<Edited, String> {
    let lines: Vec<&str> = spec.split_inclusive('\n').collect();
    let target = lines
        .iter()
        .position(|l| {
            PATCH_TAG
                .captures(l.trim_end())
                .is_some_and(|c| base_name(&c[2]) == file || &c[2] == file)
        })
        .ok_or_else(|| format!("the spec has no Patch line for `{file}`"))?;
    let number: Option<u32> = PATCH_TAG
        .captures(lines[target].trim_end())
        .and_then(|c| c[1].parse().ok());
    let mut remove = vec![false; lines.len()];
    remove[target] = true;
    // The comment right above belongs to this patch only when the next line is not another
    // Patch line (a comment over a run of Patch lines speaks for all of them).
    let next_is_patch = lines
        .get(target + 1)
        .is_some_and(|l| PATCH_TAG.is_match(l.trim_end()));
    let prev_is_patch = target > 0 && PATCH_TAG.is_match(lines[target - 1].trim_end());
    if !next_is_patch && !prev_is_patch {
        let mut i = target;
        while i > 0 && lines[i - 1].trim_start().starts_with('#') {
            i -= 1;
            remove[i] = true;
        }
        // A blank line left doubled is folded.
        let blank_before = i > 0 && lines[i - 1].trim().is_empty();
        let blank_after = lines.get(target + 1).is_some_and(|l| l.trim().is_empty());
        if blank_before && blank_after {
            remove[target + 1] = true;
        }
    }
    // `%patch -P N`, `%patch N`, `%patchN`, `%patch -PN`: this patch's own application.
    if let Some(n) = number {
        let own = Regex::new(&format!(
            r"^\s*%patch(?:{n}\b|\s+(?:-\S+\s+)*-P\s*{n}\b|\s+(?:-\S+\s+)*{n}\b)"
        ))
        .map_err(|e| e.to_string())?;
        for (i, l) in lines.iter().enumerate() {
            if own.is_match(l) {
                remove[i] = true;
            }
        }
    }
    let mut out = String::with_capacity(spec.len());
    let mut release_before = String::new();
    let mut release_after = String::new();
    let mut autochangelog = false;
    for (i, l) in lines.iter().enumerate() {
        if remove[i] {
            continue;
        }
        if l.trim() == "%autochangelog" {
            autochangelog = true;
        }
        if release_before.is_empty()
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
    }
    if let Some(e) = entry.filter(|_| !autochangelog)
        && let Some(at) = out.find("\n%changelog")
    {
        let header_end = out[at + 1..]
            .find('\n')
            .map_or(out.len(), |p| at + 1 + p + 1);
        let release = release_after
            .replace("%{?dist}", "")
            .replace("%{dist}", "")
            .replace("%autorelease", "");
        let item = format!(
            "* {} {} - {}-{}\n- {}\n\n",
            e.date,
            e.author,
            e.version,
            release.trim(),
            e.text.replace('\n', " ")
        );
        if header_end >= out.len() {
            out.push('\n');
            out.push_str(&item);
        } else {
            out.insert_str(header_end, &item);
        }
    }
    Ok(Edited {
        text: out,
        release_before,
        release_after,
        number,
    })
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
