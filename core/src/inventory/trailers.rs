//! The lines people write to say "this change is a copy of upstream commit X": git's
//! cherry-pick trailer, the kernel stable and glibc forms, `Backport-of:`. Read by the patch
//! header parser and by the fork matcher, so both recognise the same forms.

/// How a line names the upstream commit it copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trailer {
    /// `(cherry picked from commit <sha>)`.
    CherryPick,
    /// Kernel stable `commit <sha> upstream.`, `[ Upstream commit <sha> ]`, glibc's
    /// `Upstream commit: <sha>`.
    UpstreamCommit,
    /// `Backport-of: <sha or commit URL>`.
    BackportOf,
}

static_regex!(
    CHERRY_PICK,
    r"(?i)\(?cherry[- ]picked from commit ([0-9a-f]{7,40})\)?"
);
static_regex!(
    UPSTREAM_COMMIT,
    r"(?i)^\s*\[?\s*(?:upstream\s+commit\s*:?\s*([0-9a-f]{12,40})|commit\s+([0-9a-f]{12,40})\s+upstream)\.?\s*\]?\s*$"
);
static_regex!(
    BACKPORT_OF,
    r"(?i)^\s*backport-of:\s*(?:\S*/commit/)?([0-9a-f]{7,40})\b"
);

/// The upstream commit one line names as the one it copies, lowercased.
pub fn upstream_id(line: &str) -> Option<(Trailer, String)> {
    for (re, kind) in [
        (&*CHERRY_PICK, Trailer::CherryPick),
        (&*UPSTREAM_COMMIT, Trailer::UpstreamCommit),
        (&*BACKPORT_OF, Trailer::BackportOf),
    ] {
        if let Some(c) = re.captures(line) {
            let id = c.iter().skip(1).flatten().next()?;
            return Some((kind, id.as_str().to_ascii_lowercase()));
        }
    }
    None
}

/// Every upstream commit a message names as the one it copies, in order.
pub fn upstream_ids(message: &str) -> Vec<String> {
    message
        .lines()
        .filter_map(upstream_id)
        .map(|(_, id)| id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_people_write() {
        let msg = "core: fix\n\n(cherry picked from commit 0123456789abcdef0123456789abcdef01234567)\n[ Upstream commit abcdef012345 ]\ncommit FEDCBA9876543210FEDCBA9876543210FEDCBA98 upstream.\nUpstream commit: 1111222233334444\nBackport-of: https://github.com/x/y/commit/fedcba9876543210\n";
        assert_eq!(
            upstream_ids(msg),
            [
                "0123456789abcdef0123456789abcdef01234567",
                "abcdef012345",
                "fedcba9876543210fedcba9876543210fedcba98",
                "1111222233334444",
                "fedcba9876543210",
            ]
        );
        // A sentence that mentions an upstream commit is not a trailer.
        assert_eq!(
            upstream_id("see upstream commit abcdef012345 for why"),
            None
        );
        assert_eq!(upstream_id("commit 1234567 upstream"), None);
    }
}
