//! Patch file scanning: the header before the first diff and the size of the change.
//!
//! Headers come in several dialects and often mixed: `git format-patch` mail
//! (`From <sha> Mon Sep 17 00:00:00 2001`, `From:`, `Date:`, `Subject:`), kernel and git
//! trailers (`(cherry picked from commit ...)`, `Backport-of:`, `Link:`, `Fixes:`, `Closes:`),
//! Debian DEP-3 (`Origin`, `Bug`, `Bug-<Vendor>`, `Forwarded`, `Applied-Upstream`), Yocto
//! `Upstream-Status:`, SUSE (`Patch-mainline:`, `Git-commit:`, `References:`), openSUSE
//! `PATCH-FIX-UPSTREAM` tags, and Mercurial export headers.

use super::encoded_words;
use super::refs::{self, TextContext};
use super::text;
use super::trailers;
use crate::model::{
    Claim, Confidence, PatchState, RefKind, Reference, Role, UpstreamProject, Warning,
};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchInfo {
    pub subject: Option<String>,
    pub author: Option<String>,
    pub date: Option<String>,
    pub refs: Vec<Reference>,
    pub claims: Vec<Claim>,
    pub lines_added: u32,
    pub lines_removed: u32,
    /// Header lines seen before the first diff (0: a bare diff).
    pub header_lines: u32,
    /// Where the diff starts.
    pub first_diff_line: Option<u32>,
}

static_regex!(FORMAT_PATCH_FROM, r"^From ([0-9a-f]{40}) \w{3} \w{3} ");
static_regex!(FIELD, r"^([A-Za-z][A-Za-z0-9-]*):\s*(.*)$");
// `git show` / `git log -p` output starts with `commit <sha>`.
static_regex!(GIT_SHOW_COMMIT, r"^commit ([0-9a-f]{40})\b");
// Fedora glibc's patch header fields, keys with a space: `Upstream status: committed`.
static_regex!(
    FEDORA_FIELD,
    r"(?i)^(Short description|Upstream status|Author\(s\)):\s*(.*)$"
);
static_regex!(SUSE_TAG, r"PATCH-(FIX|FEATURE|NEEDS)-([A-Z]+)");
static_regex!(SQUASH_SUBJECT, r"\(#(\d+)\)\s*$");
static_regex!(SUBJECT_PREFIX, r"^(?:\[[^\]]*\]\s*)+");
static_regex!(
    ORIGIN_WORDS,
    r"(?i)\b(?:backport(?:ed|s)?|cherry[- ]?pick(?:ed)?|taken from upstream|from upstream|upstream (?:commit|pr|pull request|merge request))\b"
);
static_regex!(HUNK, r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@");

/// Parses a patch file. `upstream` resolves bare numbers; `path` goes into warnings and
/// `found_in`.
pub fn parse(
    bytes: &[u8],
    path: &str,
    upstream: Option<&UpstreamProject>,
    warnings: &mut Vec<Warning>,
) -> PatchInfo {
    let mut info = PatchInfo::default();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        warnings.push(Warning {
            path: path.to_string(),
            line: None,
            message: "empty patch file".into(),
        });
        return info;
    }
    let Some(text) = text::decode(bytes, path, warnings) else {
        return info;
    };
    let mut h = Header::new(path, upstream);
    let mut line_warnings = Vec::new();
    let mut in_header = true;
    let mut first_diff_line = None;
    let mut hunk_old = 0u32;
    let mut hunk_new = 0u32;
    let mut prev: &str = "";
    for (n, line) in text::lines(&text, path, &mut line_warnings) {
        if in_header {
            if starts_diff(line, prev) {
                in_header = false;
                // A `--- a/x` / `+++ b/x` pair starts at the `---` line, read as header text.
                let pair = line.starts_with("+++ ") && prev.starts_with("--- ");
                if pair {
                    h.lines = h.lines.saturating_sub(1);
                }
                first_diff_line = Some(if pair { n.saturating_sub(1) } else { n });
            } else {
                // Real headers are a few dozen lines. Past the budget the rest of the
                // header is only skipped (a crafted 60 MiB header cost a minute and
                // 100,000 references).
                if h.lines < MAX_HEADER_LINES {
                    h.line(n, line);
                } else {
                    h.lines = h.lines.saturating_add(1);
                }
                prev = line;
                continue;
            }
        }
        // Counting the change: hunk headers say how many old/new lines follow.
        if hunk_old > 0 || hunk_new > 0 {
            match line.as_bytes().first() {
                Some(b'+') => {
                    info.lines_added += 1;
                    hunk_new = hunk_new.saturating_sub(1);
                }
                Some(b'-') => {
                    info.lines_removed += 1;
                    hunk_old = hunk_old.saturating_sub(1);
                }
                Some(b'\\') => {}
                _ => {
                    hunk_old = hunk_old.saturating_sub(1);
                    hunk_new = hunk_new.saturating_sub(1);
                }
            }
        } else if let Some(c) = HUNK.captures(line) {
            hunk_old = c.get(1).map_or(1, |m| m.as_str().parse().unwrap_or(0));
            hunk_new = c.get(2).map_or(1, |m| m.as_str().parse().unwrap_or(0));
        }
    }
    warnings.append(&mut line_warnings);
    if h.lines > MAX_HEADER_LINES {
        warnings.push(Warning {
            path: path.to_string(),
            line: None,
            message: format!(
                "a header of {} lines; only the first {MAX_HEADER_LINES} were read",
                h.lines
            ),
        });
    }
    info.header_lines = h.lines;
    info.first_diff_line = first_diff_line;
    // A bare diff is common and fine when the spec says where it comes from; the scanner
    // warns about it only when nothing else does (see `inventory::build_patch`).
    if h.lines > 0 && first_diff_line.is_none() {
        warnings.push(Warning {
            path: path.to_string(),
            line: None,
            message: "no diff found in the patch file".into(),
        });
    }
    h.finish(&mut info);
    info
}

/// Header lines read for facts and references; the rest of a longer header is skipped.
pub const MAX_HEADER_LINES: u32 = 2000;
/// References kept per patch; more are a crafted file, not a patch's history.
pub const MAX_REFS_PER_PATCH: usize = 200;
/// A subject is a line; folded continuations stop growing it here.
const MAX_SUBJECT_BYTES: usize = 1000;

/// A diff starts with `diff `, `Index: `, `@@ `, or a `--- ` line followed by `+++ `.
fn starts_diff(line: &str, prev: &str) -> bool {
    line.starts_with("diff ")
        || line.starts_with("Index: ")
        || line.starts_with("@@ ")
        || (line.starts_with("+++ ") && prev.starts_with("--- "))
}

struct Header<'a> {
    path: &'a str,
    upstream: Option<&'a UpstreamProject>,
    lines: u32,
    /// After format-patch's `---` separator comes the diffstat, not message text.
    in_diffstat: bool,
    /// The header is `git show` output (`commit <sha>`, `Author:`, indented message).
    git_show: bool,
    /// The header is `hg export` output (`# HG changeset patch`, `# Node ID`).
    hg: bool,
    /// The field whose value continues on indented lines (`Subject:` folding, DEP-3).
    continuing: Option<String>,
    subject: Option<String>,
    author: Option<String>,
    date: Option<String>,
    subject_line: u32,
    refs: Vec<Reference>,
    claims: Vec<Claim>,
}

impl<'a> Header<'a> {
    fn new(path: &'a str, upstream: Option<&'a UpstreamProject>) -> Self {
        Header {
            path,
            upstream,
            lines: 0,
            in_diffstat: false,
            git_show: false,
            hg: false,
            continuing: None,
            subject: None,
            author: None,
            date: None,
            subject_line: 0,
            refs: Vec::new(),
            claims: Vec::new(),
        }
    }

    fn ctx(&self, n: u32, what: &str, role: Role) -> TextContext<'a> {
        TextContext::new(self.upstream, format!("{}:{n} ({what})", self.path), role)
    }

    fn claim(&mut self, state: PatchState, n: u32, text: &str) {
        self.claims.push(Claim {
            state,
            evidence: format!("{}:{n}: {}", self.path, text.trim()),
        });
    }

    fn extract(&mut self, n: u32, text: &str, what: &str, role: Role) {
        let ctx = self.ctx(n, what, role);
        self.refs.extend(refs::extract(text, &ctx));
    }

    fn line(&mut self, n: u32, line: &str) {
        self.lines += 1;
        if line.trim().is_empty() {
            self.continuing = None;
            return;
        }
        if self.in_diffstat {
            return;
        }
        if line == "---" {
            self.in_diffstat = true;
            return;
        }
        if n == 1 {
            if let Some(c) = GIT_SHOW_COMMIT.captures(line) {
                self.git_show = true;
                let ctx = self.ctx(n, "git show commit line", Role::Origin);
                let mut r = refs::commit_ref(&ctx, &c[1], Confidence::Low);
                r.note = Some("the commit git show was run on; it may be a local one".into());
                self.refs.push(r);
                return;
            }
            if let Some(c) = FORMAT_PATCH_FROM.captures(line) {
                let sha = c[1].to_string();
                if sha.bytes().any(|b| b != b'0') {
                    let ctx = self.ctx(n, "format-patch From line", Role::Origin);
                    let mut r = refs::commit_ref(&ctx, &sha, Confidence::Low);
                    r.note = Some(
                        "the commit git format-patch was run on; it may be a local one".into(),
                    );
                    self.refs.push(r);
                }
                return;
            }
        }
        if line.starts_with([' ', '\t'])
            && let Some(field) = self.continuing.clone()
        {
            self.field(n, &field, line.trim(), true);
            return;
        }
        if let Some(hg) = line.strip_prefix("# ") {
            if let Some(node) = hg.strip_prefix("Node ID ") {
                let ctx = self.ctx(n, "hg export Node ID", Role::Origin);
                let mut r = refs::commit_ref(&ctx, node.trim(), Confidence::Low);
                r.note = Some("the Mercurial changeset exported; it may be a local one".into());
                self.refs.push(r);
                return;
            }
            if let Some(user) = hg.strip_prefix("User ") {
                self.author.get_or_insert(user.trim().to_string());
                return;
            }
            if [
                "Parent ",
                "Date ",
                "Branch ",
                "HG changeset patch",
                "EXP-Topic ",
            ]
            .iter()
            .any(|k| hg.starts_with(k))
            {
                self.hg = true;
                return;
            }
        }
        // Mercurial export: the first line after the `# ` header is the subject.
        if self.hg && self.subject.is_none() && !line.starts_with('#') {
            self.subject = Some(line.trim().to_string());
            self.subject_line = n;
            return;
        }
        // `Backport-of:` is a header field (read with its URL by `origin_field`).
        if let Some((how, sha)) =
            trailers::upstream_id(line).filter(|(how, _)| *how != trailers::Trailer::BackportOf)
        {
            let what = match how {
                trailers::Trailer::CherryPick => "cherry picked from",
                _ => "upstream commit",
            };
            let ctx = self.ctx(n, what, Role::Origin);
            self.refs
                .push(refs::commit_ref(&ctx, &sha, Confidence::High));
            self.claim(PatchState::Merged, n, line);
            return;
        }
        if let Some(c) = FEDORA_FIELD.captures(line) {
            self.fedora_field(n, &c[1], &c[2]);
            return;
        }
        // `git show` format: the first indented line after the `commit` header is the subject.
        if self.git_show && self.subject.is_none() && line.starts_with("    ") {
            self.subject = Some(line.trim().to_string());
            self.subject_line = n;
            return;
        }
        if let Some(c) = FIELD.captures(line) {
            let (key, value) = (c[1].to_string(), c[2].to_string());
            if self.field(n, &key, &value, false) {
                self.continuing = Some(key);
                return;
            }
        }
        self.continuing = None;
        self.body_line(n, line);
    }

    /// Handles `Key: value`; false when the key means nothing special (then it is body text).
    fn field(&mut self, n: u32, key: &str, value: &str, continued: bool) -> bool {
        let lower = key.to_ascii_lowercase();
        match lower.as_str() {
            "subject" | "description" => {
                if lower == "subject" || self.subject.is_none() || continued {
                    if continued {
                        if let Some(s) = self
                            .subject
                            .as_mut()
                            .filter(|s| lower == "subject" && s.len() < MAX_SUBJECT_BYTES)
                        {
                            s.push(' ');
                            s.push_str(value);
                        }
                    } else if lower == "subject" || self.subject.is_none() {
                        self.subject = Some(SUBJECT_PREFIX.replace(value, "").trim().to_string());
                        self.subject_line = n;
                    }
                }
                // DEP-3 descriptions are prose about the change: references there are related.
                if lower == "description" {
                    self.extract(n, value, "Description", Role::Related);
                }
                true
            }
            "from" | "author" => {
                if !continued {
                    self.author.get_or_insert(value.trim().to_string());
                }
                true
            }
            "date" | "last-update" => {
                if !continued && lower == "date" {
                    self.date.get_or_insert(value.trim().to_string());
                }
                true
            }
            "backport-of" | "upstream-commit" | "git-commit" | "upstream" | "origin"
            | "applied-upstream" => {
                self.origin_field(n, &lower, value);
                true
            }
            "link" => {
                self.extract(n, value, "Link", Role::Origin);
                true
            }
            "fixes" | "closes" | "resolves" | "related" | "references" | "see-also" | "bug" => {
                // Fixes: names what the patch fixes, never the patch itself. A kernel-style
                // `Fixes: <sha> ("subject")` is an upstream commit, related.
                let mut found =
                    refs::extract(&format!("{key}: {value}"), &self.ctx(n, key, Role::Related));
                if found.is_empty() {
                    if let Some(sha) = value
                        .split_whitespace()
                        .next()
                        .filter(|s| refs::is_sha(s) && s.len() >= 8)
                    {
                        let ctx = self.ctx(n, key, Role::Related);
                        found.push(refs::commit_ref(&ctx, sha, Confidence::Medium));
                    } else if let Some(num) = Some(value.trim().trim_start_matches('#'))
                        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                    {
                        found = refs::extract(
                            &format!("issue #{num}"),
                            &self.ctx(n, key, Role::Related),
                        );
                    }
                }
                for r in &mut found {
                    r.role = Role::Related;
                }
                self.refs.extend(found);
                true
            }
            l if l.starts_with("bug-") => {
                self.extract(n, value, key, Role::Related);
                true
            }
            "forwarded" => {
                let v = value.trim().to_ascii_lowercase();
                match v.as_str() {
                    "no" => self.claim(PatchState::NotSent, n, &format!("Forwarded: {value}")),
                    "not-needed" | "not needed" => {
                        self.claim(PatchState::NotNeeded, n, &format!("Forwarded: {value}"))
                    }
                    _ => {
                        self.claim(PatchState::Submitted, n, &format!("Forwarded: {value}"));
                        // Where it was forwarded to is the patch's own PR/MR/mail.
                        self.extract(n, value, "Forwarded", Role::Origin);
                    }
                }
                true
            }
            "upstream-status" => {
                self.upstream_status(n, value);
                true
            }
            "patch-mainline" => {
                let v = value.trim();
                let lv = v.to_ascii_lowercase();
                if lv.starts_with("no") || lv.starts_with("never") {
                    self.claim(PatchState::NotSent, n, &format!("Patch-mainline: {v}"));
                } else if lv.starts_with("submitted") || lv.starts_with("queued") {
                    self.claim(PatchState::Submitted, n, &format!("Patch-mainline: {v}"));
                } else if lv.starts_with('v') || lv.starts_with(|c: char| c.is_ascii_digit()) {
                    self.claim(PatchState::Merged, n, &format!("Patch-mainline: {v}"));
                }
                self.extract(n, v, key, Role::Origin);
                true
            }
            "signed-off-by"
            | "reviewed-by"
            | "acked-by"
            | "tested-by"
            | "reported-by"
            | "suggested-by"
            | "co-authored-by"
            | "cc"
            | "to"
            | "message-id"
            | "mime-version"
            | "content-type"
            | "content-transfer-encoding"
            | "in-reply-to"
            | "git-repo"
            | "x-mailer" => true,
            _ => false,
        }
    }

    fn fedora_field(&mut self, n: u32, key: &str, value: &str) {
        let v = value.trim();
        match key.to_ascii_lowercase().as_str() {
            "short description" => {
                self.subject.get_or_insert(v.to_string());
                self.subject_line = n;
            }
            "upstream status" => {
                let lv = v.to_ascii_lowercase();
                let state = if lv.starts_with("not-needed") || lv.contains("only") {
                    Some(PatchState::NotNeeded)
                } else if lv.starts_with("committed") || lv.starts_with("merged") {
                    Some(PatchState::Merged)
                } else if lv.starts_with("http")
                    || lv.starts_with("submitted")
                    || lv.starts_with("pending")
                {
                    Some(PatchState::Submitted)
                } else {
                    None
                };
                if let Some(s) = state {
                    self.claim(s, n, &format!("Upstream status: {v}"));
                }
                self.extract(n, v, "Upstream status", Role::Origin);
            }
            _ => {
                self.author.get_or_insert(v.to_string());
            }
        }
    }

    fn origin_field(&mut self, n: u32, key: &str, value: &str) {
        let v = value.trim();
        let mut found = refs::extract(v, &self.ctx(n, key, Role::Origin));
        // `Backport-of: <sha>`, `Git-commit: <sha>`: a bare sha is the upstream commit.
        if let Some(sha) = v
            .split([' ', ','])
            .find(|s| refs::is_sha(s) && s.len() >= 7)
            && !found.iter().any(|r| r.kind == RefKind::UpstreamCommit)
        {
            let ctx = self.ctx(n, key, Role::Origin);
            found.push(refs::commit_ref(&ctx, sha, Confidence::High));
        }
        for r in &mut found {
            if r.kind == RefKind::UpstreamCommit && r.confidence == Confidence::Medium {
                r.confidence = Confidence::High;
            }
        }
        let lv = v.to_ascii_lowercase();
        let names_commit = found.iter().any(|r| r.kind == RefKind::UpstreamCommit);
        let names_request = found.iter().any(|r| {
            matches!(
                r.kind,
                RefKind::GithubPr | RefKind::GitlabMr | RefKind::PagurePr
            )
        });
        let state = match key {
            // DEP-3: "upstream" or "backport" origin means taken from upstream.
            "origin" if lv.starts_with("upstream") || lv.starts_with("backport") => {
                Some(PatchState::Merged)
            }
            "origin" => None,
            // `Upstream: <url>` says where it is upstream: merged only if that is a commit.
            "upstream" if names_commit => Some(PatchState::Merged),
            "upstream" if names_request => Some(PatchState::Submitted),
            "upstream" => None,
            _ => Some(PatchState::Merged),
        };
        if let Some(state) = state {
            self.claim(state, n, &format!("{}: {v}", display_key(key)));
        }
        self.refs.extend(found);
    }

    fn upstream_status(&mut self, n: u32, value: &str) {
        let v = value.trim();
        let word = v
            .split(|c: char| c.is_whitespace() || c == '[')
            .next()
            .unwrap_or_default();
        let state = match word.to_ascii_lowercase().as_str() {
            "pending" => Some(PatchState::NotSent),
            "submitted" => Some(PatchState::Submitted),
            "backport" | "accepted" => Some(PatchState::Merged),
            "inappropriate" => Some(PatchState::NotNeeded),
            "denied" => Some(PatchState::Denied),
            _ => None,
        };
        if let Some(s) = state {
            self.claim(s, n, &format!("Upstream-Status: {v}"));
        }
        // The bracket names where: the PR it was submitted as, the commit it backports.
        let role = Role::Origin;
        self.extract(n, v, "Upstream-Status", role);
    }

    fn body_line(&mut self, n: u32, line: &str) {
        if let Some(c) = SUSE_TAG.captures(line) {
            self.suse_tag(n, line, &c[1], &c[2]);
        }
        // Prose that says it carries an upstream change names the patch's origin; other
        // mentions (see #12, reported in bug 345) are related.
        let role = if ORIGIN_WORDS.is_match(line) {
            Role::Origin
        } else {
            Role::Related
        };
        self.extract(n, line, "patch description", role);
    }

    fn suse_tag(&mut self, n: u32, line: &str, kind: &str, target: &str) {
        let state = match (kind, target) {
            ("NEEDS", _) => None,
            (_, "UPSTREAM") => Some(PatchState::Submitted),
            _ => Some(PatchState::NotNeeded),
        };
        if let Some(s) = state {
            self.claim(s, n, line);
        }
    }

    fn finish(mut self, info: &mut PatchInfo) {
        // `git format-patch` writes what is not ASCII as RFC 2047 encoded words.
        self.subject = self.subject.map(|s| encoded_words::decode(&s));
        self.author = self.author.map(|s| encoded_words::decode(&s));
        if let Some(subject) = &self.subject {
            // GitHub's squash merge ends the subject with "(#154)": that PR is the patch.
            if let Some(c) = SQUASH_SUBJECT.captures(subject) {
                let ctx = self.ctx(
                    self.subject_line,
                    "Subject (#N) of a squash merge",
                    Role::Origin,
                );
                self.refs.push(refs::pr_of_upstream(&ctx, &c[1]));
            }
            let no_squash = SQUASH_SUBJECT.replace(subject, "");
            let ctx = self.ctx(self.subject_line, "Subject", Role::Origin);
            let mut found = refs::extract(&no_squash, &ctx);
            found.retain(|r| r.kind != RefKind::Ambiguous);
            self.refs.extend(found);
        }
        info.subject = self.subject;
        info.author = self.author;
        info.date = self.date;
        self.refs.truncate(MAX_REFS_PER_PATCH);
        info.refs = self.refs;
        info.claims = self.claims;
    }
}

/// A header key as people write it (`applied-upstream` -> `Applied-Upstream`).
fn display_key(key: &str) -> String {
    key.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// openSUSE's tag on the comment above a Patch line: `# PATCH-FIX-UPSTREAM name bnc#1 -- why`.
pub fn suse_tag_claim(comment: &str) -> Option<PatchState> {
    let c = SUSE_TAG.captures(comment)?;
    match (&c[1], &c[2]) {
        ("NEEDS", _) => None,
        (_, "UPSTREAM") => Some(PatchState::Submitted),
        _ => Some(PatchState::NotNeeded),
    }
}

#[cfg(test)]
mod tests;
