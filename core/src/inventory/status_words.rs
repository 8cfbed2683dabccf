//! Where a patch says it stands, in words and without an id: "Upstream patch", "from upstream
//! git", "sent upstream", "proposed to the upstream", "not upstreamable", "Fedora-specific".
//! The claim is recorded so the patch is not reported as a plain local-only patch; no
//! reference is invented from it.

use crate::model::PatchState;

static_regex!(
    DOWNSTREAM_ONLY,
    r"(?i)\b(?:(?:fedora|rhel|centos|epel|distro|distribution|downstream)(?:/\w+)?[- ](?:specific|only)\b|not\s+upstreamable|not\s+(?:for|suitable\s+for|appropriate\s+for|meant\s+for)\s+upstream|(?:won'?t|will\s+not|should\s+not|shouldn'?t)\s+(?:be\s+)?(?:sent\s+)?upstream(?:ed)?)\b"
);
static_regex!(
    NOT_YET,
    r"(?i)\bnot\s+(?:yet\s+)?(?:sent\s+|submitted\s+|reported\s+|accepted\s+|merged\s+|applied\s+)?(?:to\s+)?(?:the\s+)?upstream"
);
static_regex!(
    SUBMITTED,
    r"(?i)\b(?:(?:sent|submitted|proposed|reported|forwarded|posted|offered)\s+(?:to\s+|for\s+)?(?:the\s+)?upstream|pending\s+upstream|upstream\s+(?:pr|pull\s+request|merge\s+request|mr)\s+(?:pending|open))"
);
static_regex!(
    MERGED,
    r"(?i)\b(?:upstream\s+(?:patch|commit|fix|git|change|backport)|(?:patch|backport(?:ed)?|taken|cherry[- ]?picked|pulled|imported|fix)\s+from\s+(?:the\s+)?upstream|from\s+upstream\s+(?:git|svn|cvs|hg|repo\w*|trunk|master|main|branch|source)|(?:fixed|merged|applied|accepted|already)\s+(?:in\s+)?upstream)\b"
);

/// The claim one comment or changelog line makes, if any.
pub fn claim(text: &str) -> Option<PatchState> {
    if DOWNSTREAM_ONLY.is_match(text) {
        return Some(PatchState::NotNeeded);
    }
    if NOT_YET.is_match(text) {
        return None;
    }
    if SUBMITTED.is_match(text) {
        return Some(PatchState::Submitted);
    }
    MERGED.is_match(text).then_some(PatchState::Merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_comments_say_where_their_patch_stands() {
        let cases = [
            // perl-BibTeX-Parser.spec
            (
                "Remove a strayed debugging output, CPAN RT#134350, proposed to the upstream",
                Some(PatchState::Submitted),
            ),
            ("Upstream patch", Some(PatchState::Merged)),
            (
                "Fix build with GCC 15, from upstream git",
                Some(PatchState::Merged),
            ),
            ("sent upstream", Some(PatchState::Submitted)),
            (
                "Fedora-specific: use system paths",
                Some(PatchState::NotNeeded),
            ),
            ("not upstreamable", Some(PatchState::NotNeeded)),
            // perl.spec
            ("Fedora/RHEL only (64bit only)", Some(PatchState::NotNeeded)),
            ("Not yet sent upstream", None),
            ("Fix crash when the config is missing", None),
            ("update to the latest upstream release", None),
        ];
        for (text, want) in cases {
            assert_eq!(claim(text), want, "{text}");
        }
    }
}
