//! References hidden in patch file names, by the conventions real dist-gits use:
//! `35.patch` (GitHub's `pull/35.patch`), `16838_16857_improve_path_search.patch` (PR numbers),
//! `f1901d3...4db2b.patch` (a commit), `Fix-foo---154-.patch` (a squash-merge subject
//! "Fix foo (#154)" turned into a file name), `rhbz1234567.patch`, `CVE-2020-13776.patch`.
//! `15551-fix-namespace-check.patch` (a PR number) and `156a5fd-fix-foo.patch` (a short sha)
//! when the upstream is on a forge, `mozilla-2034301.patch`.
//! `git format-patch` numbering (`0001-subject.patch`) and Debian/quilt numbering
//! (`10_update_cmake.patch`, `0003-foo.patch`) are not references.

use super::refs::{self, TextContext};
use crate::model::{Confidence, Reference, UpstreamProject};

// PR numbers lead a name with `_` or `-`; Debian/quilt numbers are short (`10_`) or zero-padded
// (`0003-`), so only four digits or more without a leading zero count.
static_regex!(
    LEADING_NUMBERS,
    r"^([1-9]\d{3,6}(?:_[1-9]\d{3,6})*)_[A-Za-z]"
);
static_regex!(LEADING_PR, r"^([1-9]\d{3,6})-[A-Za-z]");
static_regex!(LEADING_SHA, r"^([0-9a-f]{7,12})-[A-Za-z]");
static_regex!(
    MOZILLA,
    r"(?i)(?:^|[-_.])(?:mozilla|bmo|moz)[-_#]?(\d{5,8})(?:[-_.]|$)"
);
static_regex!(SQUASH_SUFFIX, r"---?(\d+)-?$");
static_regex!(
    RHBZ,
    r"(?i)(?:^|[-_.])(?:rh(?:bz|bug)?|bz|bug)[-_#]?(\d{5,8})(?:[-_.]|$)"
);
static_regex!(PR, r"(?i)(?:^|[-_.])(?:pr|pull|mr)[-_#]?(\d+)(?:[-_.]|$)");
static_regex!(GH, r"(?i)(?:^|[-_.])gh[-_#]?(\d+)(?:[-_.]|$)");
static_regex!(CVE, r"(?i)CVE-\d{4}-\d{4,7}");
static_regex!(JIRA, r"\b((?:RHEL|RHELPLAN)-\d+)\b");

/// The references a patch's file name implies.
pub fn refs(file: &str, ctx: &TextContext<'_>) -> Vec<Reference> {
    let stem = file
        .trim_end_matches(".gz")
        .trim_end_matches(".xz")
        .trim_end_matches(".patch")
        .trim_end_matches(".diff");
    let mut out = Vec::new();
    if stem.len() == 40 && refs::is_sha(stem) {
        out.push(refs::commit_ref(ctx, stem, Confidence::Medium));
        return out;
    }
    if !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit()) && !stem.starts_with('0') {
        out.push(number(ctx, stem, Confidence::Medium));
        return out;
    }
    let on_forge = matches!(
        ctx.upstream,
        Some(
            UpstreamProject::Github { .. }
                | UpstreamProject::Gitlab { .. }
                | UpstreamProject::Pagure { .. }
        )
    );
    if on_forge {
        if let Some(c) = LEADING_NUMBERS.captures(stem) {
            for n in c[1].split('_') {
                out.push(number(ctx, n, Confidence::Low));
            }
        } else if let Some(c) = LEADING_PR.captures(stem)
            // A year leading a name is a date, not a pull request.
            && !(1990..=2039).contains(&c[1].parse::<u32>().unwrap_or(0))
        {
            out.push(number(ctx, &c[1], Confidence::Low));
        } else if let Some(c) = LEADING_SHA.captures(stem)
            && c[1].bytes().any(|b| b.is_ascii_digit())
            && c[1].bytes().any(|b| b.is_ascii_alphabetic())
        {
            out.push(refs::commit_ref(ctx, &c[1], Confidence::Low));
        }
    }
    if let Some(c) = MOZILLA.captures(stem) {
        out.push(refs::tracker_ref(ctx, "bmo", &c[1]));
    }
    if let Some(c) = SQUASH_SUFFIX
        .captures(stem)
        .filter(|c| stem.len() > c[0].len())
    {
        out.push(with_confidence(
            refs::pr_of_upstream(ctx, &c[1]),
            Confidence::Medium,
        ));
    }
    if let Some(c) = RHBZ.captures(stem) {
        out.push(refs::rhbz_ref(ctx, &c[1], Confidence::Medium));
    }
    if let Some(c) = PR.captures(stem) {
        out.push(refs::pr_of_upstream(ctx, &c[1]));
    }
    if let Some(c) = GH.captures(stem) {
        out.push(refs::github_ambiguous_ref(ctx, &c[1]));
    }
    // `rear-skip-longhorn-iscsi-RHEL-83551.patch`: the Jira issue the patch is for.
    for c in JIRA.captures_iter(stem) {
        out.extend(refs::extract(&c[1], ctx));
    }
    for m in CVE.find_iter(stem) {
        out.extend(refs::extract(&m.as_str().to_ascii_uppercase(), ctx));
    }
    out
}

/// A number standing for a pull request: of the upstream, or a Red Hat bug when it is that big.
fn number(ctx: &TextContext<'_>, n: &str, confidence: Confidence) -> Reference {
    let big = n.parse::<u64>().unwrap_or(0) >= refs::RHBZ_MIN_BARE_ID;
    if big {
        return refs::rhbz_ref(ctx, n, Confidence::Low);
    }
    with_confidence(refs::pr_of_upstream(ctx, n), confidence)
}

fn with_confidence(mut r: Reference, c: Confidence) -> Reference {
    r.confidence = r.confidence.min(c);
    r
}
