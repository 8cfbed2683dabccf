//! What git says of a commit, computed in one streamed pass of `git log -p`: the stable
//! patch-id (from `git patch-id --stable`, fed the same bytes), a path-insensitive content key,
//! and the message facts. Cached in the store per (commit, git version).

use crate::git::{Git, GitError, Result, stderr_message};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::process::Stdio;

/// One commit, as the matcher needs it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CommitFacts {
    pub sha: String,
    /// git's stable patch-id; empty for a commit without a diff.
    pub patch_id: String,
    /// A hash of the sorted added/removed lines, file names left out; empty without a diff.
    pub content_key: String,
    pub subject: String,
    /// `Name <email>`.
    pub author: String,
    /// Author date, RFC 3339.
    pub authored: String,
    pub message: String,
    pub lines_added: u32,
    pub lines_removed: u32,
}

/// The diff options both sides of a comparison use: nothing from the user's configuration.
const DIFF_ARGS: &[&str] = &[
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--no-renames",
    "--diff-algorithm=myers",
];
/// The message is indented by `%w(0,4,4)` so that no message line can pass for a commit
/// header or a diff line (for us and for `git patch-id`).
const FORMAT: &str = "--format=commit %H%nauthor %an <%ae>%ndate %aI%n%w(0,4,4)%B";

/// [`compute`], going on around commits git cannot read (a blob a partial clone lacks, a
/// damaged object): when the whole batch fails, its halves are tried, down to the single
/// commits that fail, which are returned with git's message. One unreadable commit costs
/// about twice the logarithm of the batch in git runs, not the whole match.
pub fn compute_around_failures(
    git: &Git,
    dir: &Path,
    shas: &[String],
) -> (Vec<CommitFacts>, Vec<(String, String)>) {
    match compute(git, dir, shas) {
        Ok(facts) => (facts, Vec::new()),
        Err(e) if shas.len() == 1 => (Vec::new(), vec![(shas[0].clone(), e.to_string())]),
        Err(_) => {
            let (a, b) = shas.split_at(shas.len() / 2);
            let (mut facts, mut failed) = compute_around_failures(git, dir, a);
            let (more, more_failed) = compute_around_failures(git, dir, b);
            facts.extend(more);
            failed.extend(more_failed);
            (facts, failed)
        }
    }
}

/// Upstream commits touching more files than this are left out of content matching: they are
/// release imports, translation dumps and reformattings (in CUPS after v2.3.0, 306 of 12,476
/// commits, 95% of the changed lines), never a change a downstream carries, and their diffs
/// cost more than all the others together.
pub const MAX_FILES_PER_CANDIDATE: usize = 500;

/// `shas` without the commits that touch more than [`MAX_FILES_PER_CANDIDATE`] files, and how
/// many were left out. Reads `git log --raw` (no diff is computed).
///
/// # Errors
/// git failed.
pub fn without_huge(git: &Git, dir: &Path, shas: Vec<String>) -> Result<(Vec<String>, usize)> {
    let files = files_touched(git, dir, &shas)?;
    let before = shas.len();
    let kept: Vec<String> = shas
        .into_iter()
        .filter(|s| files.get(s).is_none_or(|n| *n <= MAX_FILES_PER_CANDIDATE))
        .collect();
    let skipped = before - kept.len();
    Ok((kept, skipped))
}

/// How many files each of `shas` touches, from `git log --raw` (no diff is computed: a
/// tenth of the cost of the diffs, which is why candidates are sorted out with it first).
///
/// # Errors
/// git failed.
pub fn files_touched(git: &Git, dir: &Path, shas: &[String]) -> Result<HashMap<String, usize>> {
    let mut counts = HashMap::with_capacity(shas.len());
    if shas.is_empty() {
        return Ok(counts);
    }
    let input: String = shas.iter().map(|s| format!("{s}\n")).collect();
    let out = git.output_with_input(
        dir,
        &[
            "log",
            "--no-walk=unsorted",
            "--stdin",
            "--format=@%H",
            "--raw",
            "--no-renames",
            "--no-abbrev",
        ],
        Some(input.as_bytes()),
    )?;
    let text = String::from_utf8_lossy(&out);
    let mut current: Option<(&str, usize)> = None;
    for line in text.lines() {
        if let Some(sha) = line.strip_prefix('@') {
            if let Some((sha, n)) = current.take() {
                counts.insert(sha.to_string(), n);
            }
            current = Some((sha, 0));
        } else if line.starts_with(':')
            && let Some((_, n)) = current.as_mut()
        {
            *n += 1;
        }
    }
    if let Some((sha, n)) = current {
        counts.insert(sha.to_string(), n);
    }
    Ok(counts)
}

/// Below this many commits one `git log -p | git patch-id` pipeline does the work; above it,
/// one pipeline per core, each on its share of the commits (a first match against a large
/// upstream range is git's diff and hash work, which scales with the cores).
const PARALLEL_FROM: usize = 2_000;

/// Computes the facts of `shas` (non-merge commits) in the repository `dir`, in the order of
/// `shas`.
///
/// # Errors
/// git failed.
pub fn compute(git: &Git, dir: &Path, shas: &[String]) -> Result<Vec<CommitFacts>> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if shas.len() < PARALLEL_FROM || cores < 2 {
        return compute_one_pipeline(git, dir, shas);
    }
    compute_in_parts(git, dir, shas, cores)
}

/// [`compute`] with `parts` pipelines side by side.
fn compute_in_parts(
    git: &Git,
    dir: &Path,
    shas: &[String],
    parts: usize,
) -> Result<Vec<CommitFacts>> {
    let share = shas.len().div_ceil(parts.max(1)).max(1);
    std::thread::scope(|s| {
        let running: Vec<_> = shas
            .chunks(share)
            .map(|part| s.spawn(move || compute_one_pipeline(git, dir, part)))
            .collect();
        let mut all = Vec::with_capacity(shas.len());
        for r in running {
            let part = r.join().map_err(|_| GitError::Failed {
                args: "log -p | patch-id --stable".into(),
                dir: dir.display().to_string(),
                message: "a facts pipeline stopped unexpectedly".into(),
            })??;
            all.extend(part);
        }
        Ok(all)
    })
}

fn compute_one_pipeline(git: &Git, dir: &Path, shas: &[String]) -> Result<Vec<CommitFacts>> {
    if shas.is_empty() {
        return Ok(Vec::new());
    }
    let fail = |message: String| GitError::Failed {
        args: "log -p | patch-id --stable".into(),
        dir: dir.display().to_string(),
        message,
    };
    let mut log = git
        .command(dir)
        .args(["log", "--no-walk=unsorted", "--stdin", "-p", FORMAT])
        .args(DIFF_ARGS)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    let mut patch_id = git
        .command(dir)
        .args(["patch-id", "--stable"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    let input: Vec<u8> = shas
        .iter()
        .flat_map(|s| format!("{s}\n").into_bytes())
        .collect();
    let pipes = (
        log.stdin.take(),
        log.stdout.take(),
        log.stderr.take(),
        patch_id.stdin.take(),
        patch_id.stdout.take(),
    );
    let (Some(log_in), Some(log_out), Some(mut log_err), Some(pid_in), Some(mut pid_out)) = pipes
    else {
        let _ = log.kill();
        let _ = patch_id.kill();
        return Err(fail("git's pipes could not be opened".into()));
    };

    let (parsed, ids, err) = std::thread::scope(|s| {
        s.spawn(move || {
            let mut w = log_in;
            let _ = w.write_all(&input);
        });
        let ids = s.spawn(move || {
            let mut t = String::new();
            let _ = pid_out.read_to_string(&mut t);
            t
        });
        let err = s.spawn(move || {
            let mut e = Vec::new();
            let _ = log_err.read_to_end(&mut e);
            e
        });
        let parsed = parse_stream(BufReader::new(log_out), BufWriter::new(pid_in));
        (
            parsed,
            ids.join().unwrap_or_default(),
            err.join().unwrap_or_default(),
        )
    });
    let status = log.wait().map_err(|e| fail(e.to_string()))?;
    let _ = patch_id.wait();
    if !status.success() {
        return Err(fail(stderr_message(&err, status)));
    }
    let mut commits = parsed.map_err(|e| fail(e.to_string()))?;
    let by_commit: HashMap<&str, &str> = ids
        .lines()
        .filter_map(|l| {
            let (pid, sha) = l.split_once(' ')?;
            Some((sha.trim(), pid))
        })
        .collect();
    for c in &mut commits {
        if let Some(pid) = by_commit.get(c.sha.as_str()) {
            c.patch_id = (*pid).to_string();
        }
    }
    Ok(commits)
}

/// Reads `git log -p` in [`FORMAT`], copying every byte to `tee` (git patch-id's input).
fn parse_stream(mut r: impl BufRead, mut tee: impl Write) -> std::io::Result<Vec<CommitFacts>> {
    let mut out = Vec::new();
    let mut cur: Option<Building> = None;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        // patch-id may exit early on odd input; our own parse goes on.
        let _ = tee.write_all(&buf);
        let line = String::from_utf8_lossy(&buf);
        let line = line.strip_suffix('\n').unwrap_or(&line);
        if let Some(sha) = line.strip_prefix("commit ")
            && sha.len() == 40
            && sha.bytes().all(|b| b.is_ascii_hexdigit())
        {
            if let Some(b) = cur.take() {
                out.push(b.finish());
            }
            cur = Some(Building::new(sha));
            continue;
        }
        if let Some(b) = cur.as_mut() {
            b.line(line);
        }
    }
    drop(tee);
    if let Some(b) = cur.take() {
        out.push(b.finish());
    }
    Ok(out)
}

struct Building {
    facts: CommitFacts,
    in_diff: bool,
    in_hunk: bool,
    /// The message's first lines, up to [`MESSAGE_HEAD_BYTES`] ...
    message: Vec<String>,
    head_bytes: usize,
    /// ... and its last lines, up to [`MESSAGE_TAIL_BYTES`] (trailers live at the end).
    tail: std::collections::VecDeque<String>,
    tail_bytes: usize,
    /// Bytes of message lines kept in neither.
    left_out: usize,
    changes: Vec<String>,
}

/// What of a commit message is kept (and cached in the store): its start, where the subject
/// and the story are, and its end, where the trailers are. A 50 MB message is a hostile or
/// generated one; the middle tells the matcher nothing.
const MESSAGE_HEAD_BYTES: usize = 48 * 1024;
const MESSAGE_TAIL_BYTES: usize = 16 * 1024;

impl Building {
    fn new(sha: &str) -> Self {
        Building {
            facts: CommitFacts {
                sha: sha.to_string(),
                patch_id: String::new(),
                content_key: String::new(),
                subject: String::new(),
                author: String::new(),
                authored: String::new(),
                message: String::new(),
                lines_added: 0,
                lines_removed: 0,
            },
            in_diff: false,
            in_hunk: false,
            message: Vec::new(),
            head_bytes: 0,
            tail: std::collections::VecDeque::new(),
            tail_bytes: 0,
            left_out: 0,
            changes: Vec::new(),
        }
    }

    fn message_line(&mut self, line: &str) {
        let line = line.strip_prefix("    ").unwrap_or(line);
        if self.head_bytes + line.len() <= MESSAGE_HEAD_BYTES && self.tail.is_empty() {
            self.head_bytes += line.len() + 1;
            self.message.push(line.to_string());
            return;
        }
        // One line longer than the whole tail is cut to its end.
        let mut kept = line;
        if kept.len() > MESSAGE_TAIL_BYTES {
            let mut cut = kept.len() - MESSAGE_TAIL_BYTES;
            while !kept.is_char_boundary(cut) {
                cut += 1;
            }
            self.left_out += cut;
            kept = &kept[cut..];
        }
        self.tail_bytes += kept.len() + 1;
        self.tail.push_back(kept.to_string());
        while self.tail_bytes > MESSAGE_TAIL_BYTES {
            let Some(old) = self.tail.pop_front() else {
                break;
            };
            self.tail_bytes -= old.len() + 1;
            self.left_out += old.len() + 1;
        }
    }

    fn line(&mut self, line: &str) {
        if line.starts_with("diff --git ") {
            self.in_diff = true;
            self.in_hunk = false;
            return;
        }
        if !self.in_diff {
            if self.facts.author.is_empty()
                && let Some(a) = line.strip_prefix("author ")
            {
                self.facts.author = a.to_string();
            } else if self.facts.authored.is_empty()
                && let Some(d) = line.strip_prefix("date ")
            {
                self.facts.authored = d.to_string();
            } else {
                self.message_line(line);
            }
            return;
        }
        if line.starts_with("@@") {
            self.in_hunk = true;
            return;
        }
        if !self.in_hunk {
            return;
        }
        if let Some(rest) = line.strip_prefix('+') {
            self.facts.lines_added += 1;
            self.changes.push(format!("+{}", rest.trim_end()));
        } else if let Some(rest) = line.strip_prefix('-') {
            self.facts.lines_removed += 1;
            self.changes.push(format!("-{}", rest.trim_end()));
        }
    }

    fn finish(mut self) -> CommitFacts {
        if self.left_out > 0 {
            self.message
                .push(format!("[... {} bytes left out ...]", self.left_out));
        }
        self.message.extend(self.tail.drain(..));
        while self.message.last().is_some_and(|l| l.trim().is_empty()) {
            self.message.pop();
        }
        self.facts.message = self.message.join("\n");
        self.facts.subject = self
            .message
            .iter()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_string())
            .unwrap_or_default();
        self.facts.content_key = content_key(&mut self.changes);
        self.facts
    }
}

/// The path-insensitive key of a change: its added and removed lines, trailing whitespace
/// left out, sorted (so hunk order and file names do not matter).
pub fn content_key(changes: &mut [String]) -> String {
    if changes.is_empty() {
        return String::new();
    }
    changes.sort_unstable();
    let mut joined = Vec::with_capacity(changes.iter().map(|c| c.len() + 1).sum());
    for c in changes.iter() {
        joined.extend_from_slice(c.as_bytes());
        joined.push(b'\n');
    }
    // Two independent 64-bit hashes: one would do for a few thousand commits, but a key
    // collision would call two different changes the same.
    format!(
        "{}{}",
        crate::display::fingerprint(&joined),
        fnv_offset(&joined, 0x6c62_272e_07bb_0142)
    )
}

fn fnv_offset(bytes: &[u8], basis: u64) -> String {
    let mut h = basis;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The added/removed lines of one commit (for the subject matcher's similarity), read on
/// demand: only a handful of commits ever need them.
///
/// # Errors
/// git failed.
pub fn changed_lines(git: &Git, dir: &Path, sha: &str) -> Result<Vec<String>> {
    let mut args = vec!["show", "--format=", "-p"];
    args.extend_from_slice(DIFF_ARGS);
    args.push(sha);
    let out = git.output(dir, &args)?;
    let text = String::from_utf8_lossy(&out);
    let mut b = Building::new(sha);
    for l in text.lines() {
        if l.starts_with("diff --git ") {
            b.in_diff = true;
            b.in_hunk = false;
        } else if b.in_diff {
            b.line(l);
        }
    }
    Ok(b.changes)
}

/// The patch-id and content key of a patch file's diff (`git patch-id --stable` reads the
/// diff as it is; a header before it is ignored). Empty strings for a file without a diff.
///
/// # Errors
/// git failed.
pub fn of_patch_file(git: &Git, dir: &Path, bytes: &[u8]) -> Result<(String, String)> {
    let text = String::from_utf8_lossy(bytes);
    let key = content_key(&mut diff_changes(&text));
    // A header written as mail (`From <sha> ...`) is how patch-id finds a commit; without
    // one it hashes the diff alone, which is what we want here.
    let out = git.output_with_input(dir, &["patch-id", "--stable"], Some(bytes))?;
    let pid = String::from_utf8_lossy(&out)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    Ok((pid, key))
}

/// The headers (subject, author, date, message) of the non-merge commits `range` selects,
/// newest first, without their diffs: what the subject step needs of every candidate, for a
/// fraction of the cost of [`compute`]. Patch-id and content key are left empty, so these are
/// never cached as facts.
///
/// # Errors
/// git failed.
pub fn headers(git: &Git, dir: &Path, range: &[&str]) -> Result<Vec<CommitFacts>> {
    let mut args = vec!["log", "--no-merges", FORMAT];
    args.extend_from_slice(range);
    let out = git.output(dir, &args)?;
    parse_stream(out.as_slice(), std::io::sink()).map_err(|e| GitError::Failed {
        args: "log".into(),
        dir: dir.display().to_string(),
        message: e.to_string(),
    })
}

/// How many files a patch file's diff changes.
pub fn files_changed(text: &str) -> usize {
    diff_file_pairs(text).len()
}

/// The files a patch file's diff touches, as written after `a/`/`b/` (or whole when the diff
/// has no such prefix); `/dev/null` left out.
pub fn touched_paths(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |p: &str| {
        let p = p.split('\t').next().unwrap_or(p).trim();
        if p.is_empty() || p == "/dev/null" {
            return;
        }
        let p = p
            .strip_prefix("a/")
            .or_else(|| p.strip_prefix("b/"))
            .unwrap_or(p);
        if !out.iter().any(|o| o == p) {
            out.push(p.to_string());
        }
    };
    for (old, new) in diff_file_pairs(text) {
        add(old);
        add(new);
    }
    out
}

/// The `---`/`+++` name pairs of a diff (a `--- x` inside a hunk is a removed line, which the
/// hunk counts tell apart).
fn diff_file_pairs(text: &str) -> Vec<(&str, &str)> {
    static_regex!(HUNK, r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@");
    let mut pairs = Vec::new();
    let (mut old, mut new) = (0u32, 0u32);
    let mut minus: Option<&str> = None;
    for l in text.lines() {
        if old > 0 || new > 0 {
            match l.as_bytes().first() {
                Some(b'+') => new = new.saturating_sub(1),
                Some(b'-') => old = old.saturating_sub(1),
                Some(b'\\') => {}
                _ => {
                    old = old.saturating_sub(1);
                    new = new.saturating_sub(1);
                }
            }
        } else if let Some(name) = l.strip_prefix("--- ") {
            minus = Some(name);
        } else if let (Some(name), Some(m)) = (l.strip_prefix("+++ "), minus) {
            pairs.push((m, name));
            minus = None;
        } else if let Some(c) = HUNK.captures(l) {
            old = c.get(1).map_or(1, |m| m.as_str().parse().unwrap_or(0));
            new = c.get(2).map_or(1, |m| m.as_str().parse().unwrap_or(0));
        }
    }
    pairs
}

/// The added/removed lines of a patch file, hunk by hunk (the hunk headers' counts say where
/// a hunk ends, so a removed line `--- x` is never taken for a file header).
pub fn diff_changes(text: &str) -> Vec<String> {
    static_regex!(HUNK, r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@");
    let (mut old, mut new) = (0u32, 0u32);
    let mut out = Vec::new();
    for l in text.lines() {
        if old > 0 || new > 0 {
            match l.as_bytes().first() {
                Some(b'+') => {
                    out.push(format!("+{}", l[1..].trim_end()));
                    new = new.saturating_sub(1);
                }
                Some(b'-') => {
                    out.push(format!("-{}", l[1..].trim_end()));
                    old = old.saturating_sub(1);
                }
                Some(b'\\') => {}
                _ => {
                    old = old.saturating_sub(1);
                    new = new.saturating_sub(1);
                }
            }
        } else if let Some(c) = HUNK.captures(l) {
            old = c.get(1).map_or(1, |m| m.as_str().parse().unwrap_or(0));
            new = c.get(2).map_or(1, |m| m.as_str().parse().unwrap_or(0));
        }
    }
    out
}

/// The diff of a patch file reversed (what applying it with `-R` does): `-`/`+` lines,
/// `---`/`+++` names, hunk ranges and file creation/deletion swapped; the header left out.
/// `git patch-id` of it is the patch-id of the commit the patch reverts.
pub fn reversed_diff(text: &str) -> String {
    static_regex!(HUNK, r"^@@ -(\d+(?:,\d+)?) \+(\d+(?:,\d+)?) @@(.*)$");
    let mut out = String::with_capacity(text.len());
    let (mut old, mut new) = (0u32, 0u32);
    let mut in_diff = false;
    let mut minus_name: Option<&str> = None;
    let count = |range: &str| -> u32 {
        range
            .split_once(',')
            .map_or(Some(1), |(_, n)| n.parse().ok())
            .unwrap_or(0)
    };
    for l in text.lines() {
        if old > 0 || new > 0 {
            match l.as_bytes().first() {
                Some(b'+') => {
                    out.push('-');
                    out.push_str(&l[1..]);
                    new = new.saturating_sub(1);
                }
                Some(b'-') => {
                    out.push('+');
                    out.push_str(&l[1..]);
                    old = old.saturating_sub(1);
                }
                Some(b'\\') => out.push_str(l),
                _ => {
                    out.push_str(l);
                    old = old.saturating_sub(1);
                    new = new.saturating_sub(1);
                }
            }
            out.push('\n');
            continue;
        }
        if l.starts_with("diff --git ") {
            in_diff = true;
            out.push_str(l);
        } else if let Some(c) = HUNK.captures(l) {
            in_diff = true;
            old = count(&c[1]);
            new = count(&c[2]);
            out.push_str(&format!("@@ -{} +{} @@{}", &c[2], &c[1], &c[3]));
        } else if let Some(name) = l.strip_prefix("--- ") {
            in_diff = true;
            minus_name = Some(name);
            continue;
        } else if let Some(name) = l.strip_prefix("+++ ") {
            out.push_str(&format!(
                "--- {name}\n+++ {}",
                minus_name.take().unwrap_or(name)
            ));
        } else if let Some(mode) = l.strip_prefix("new file mode ") {
            out.push_str(&format!("deleted file mode {mode}"));
        } else if let Some(mode) = l.strip_prefix("deleted file mode ") {
            out.push_str(&format!("new file mode {mode}"));
        } else if in_diff {
            out.push_str(l);
        } else {
            continue;
        }
        out.push('\n');
    }
    out
}

/// Dice similarity of two multisets of changed lines: 1.0 the same lines, 0.0 none shared.
pub fn similarity(a: &[String], b: &[String]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for l in a {
        *counts.entry(l.as_str()).or_default() += 1;
    }
    let mut shared = 0i64;
    for l in b {
        if let Some(c) = counts.get_mut(l.as_str())
            && *c > 0
        {
            *c -= 1;
            shared += 1;
        }
    }
    2.0 * shared as f64 / (a.len() + b.len()) as f64
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `git args` in the test repository `dir`, with a fixed identity; its output, trimmed.
    pub(crate) fn git_in(dir: &Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=T", "-c", "user.email=t@x"])
            .args(["-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(dir)
            .output()
            .expect("git");
        assert!(out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    #[test]
    fn pipelines_side_by_side_give_the_same_facts_in_order() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        let run = |args: &[&str]| git_in(dir, args);
        run(&["init", "-q"]);
        let mut shas = Vec::new();
        for i in 0..7 {
            std::fs::write(dir.join(format!("f{i}")), format!("{i}\n")).expect("write");
            run(&["add", "."]);
            run(&["commit", "-qm", &format!("change {i}")]);
            shas.push(run(&["rev-parse", "HEAD"]));
        }
        let git = Git::detect(None).expect("git");
        let git_dir = dir.join(".git");
        let one = compute_one_pipeline(&git, &git_dir, &shas).expect("one");
        let three = compute_in_parts(&git, &git_dir, &shas, 3).expect("three");
        assert_eq!(one.len(), 7);
        assert_eq!(one, three);
        assert_eq!(three[4].subject, "change 4");
    }

    #[test]
    fn release_imports_are_left_out_of_the_candidates() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        let run = |args: &[&str]| git_in(dir, args);
        run(&["init", "-q"]);
        std::fs::write(dir.join("a"), "a\n").expect("write");
        run(&["add", "."]);
        run(&["commit", "-qm", "small"]);
        let small = run(&["rev-parse", "HEAD"]);
        for i in 0..=MAX_FILES_PER_CANDIDATE {
            std::fs::write(dir.join(format!("import{i}")), "x\n").expect("write");
        }
        run(&["add", "."]);
        run(&["commit", "-qm", "Import release 2.0"]);
        let import = run(&["rev-parse", "HEAD"]);
        let git = Git::detect(None).expect("git");
        let (kept, left_out) =
            without_huge(&git, &dir.join(".git"), vec![import, small.clone()]).expect("raw");
        assert_eq!((kept, left_out), (vec![small], 1));
    }

    #[test]
    fn parses_log_stream() {
        let log = "commit 1111111111111111111111111111111111111111\nauthor A <a@x>\ndate 2024-01-02T03:04:05+00:00\n    core: fix foo\n    \n    commit 2222222222222222222222222222222222222222 is not a header\n    (cherry picked from commit abc)\n\ndiff --git a/x.c b/x.c\nindex 1..2 100644\n--- a/x.c\n+++ b/x.c\n@@ -1,2 +1,2 @@\n ctx\n--- removed\n+added   \ncommit 3333333333333333333333333333333333333333\nauthor B <b@x>\ndate 2024-01-02T03:04:05+00:00\n    empty\n";
        let mut tee = Vec::new();
        let got = parse_stream(log.as_bytes(), &mut tee).unwrap();
        assert_eq!(tee, log.as_bytes());
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].subject, "core: fix foo");
        assert_eq!(got[0].author, "A <a@x>");
        assert!(got[0].message.contains("cherry picked from commit abc"));
        assert!(
            got[0]
                .message
                .contains("commit 2222222222222222222222222222222222222222")
        );
        assert_eq!((got[0].lines_added, got[0].lines_removed), (1, 1));
        assert!(!got[0].content_key.is_empty());
        assert!(got[1].content_key.is_empty());
        // The same lines under another file name and order: the same key.
        let mut a = vec!["+added".to_string(), "--- removed".to_string()];
        let mut b = vec!["--- removed".to_string(), "+added".to_string()];
        assert_eq!(content_key(&mut a), content_key(&mut b));
        assert_eq!(got[0].content_key, content_key(&mut a));
    }

    #[test]
    fn a_huge_message_keeps_its_start_and_its_trailers() {
        let mut log = String::from(
            "commit 1111111111111111111111111111111111111111\nauthor A <a@x>\ndate 2024-01-02T03:04:05+00:00\n    core: fix foo\n",
        );
        let filler = format!("    {}\n", "x".repeat(99));
        for _ in 0..500_000 {
            log.push_str(&filler);
        }
        log.push_str(&format!("    {}\n", "y".repeat(100_000)));
        log.push_str("    (cherry picked from commit 2222222222222222222222222222222222222222)\n");
        log.push_str("\ndiff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-a\n+b\n");
        assert!(log.len() > 50_000_000);
        let got = parse_stream(log.as_bytes(), std::io::sink()).unwrap();
        let m = &got[0].message;
        assert!(
            m.len() <= MESSAGE_HEAD_BYTES + MESSAGE_TAIL_BYTES + 64,
            "{}",
            m.len()
        );
        assert_eq!(got[0].subject, "core: fix foo");
        assert!(
            m.ends_with("(cherry picked from commit 2222222222222222222222222222222222222222)")
        );
        assert!(m.contains("bytes left out ...]"));
        assert_eq!((got[0].lines_added, got[0].lines_removed), (1, 1));
    }

    #[test]
    fn patch_file_lines_follow_hunk_counts() {
        let diff = "--- a/x.c\n+++ b/x.c\n@@ -1,2 +1,2 @@\n ctx\n--- removed\n+added\n--- a/y.c\n+++ b/y.c\n@@ -5 +5 @@\n-old\n+new\n";
        let got = diff_changes(diff);
        assert_eq!(got, vec!["--- removed", "+added", "-old", "+new"]);
    }

    #[test]
    fn touched_paths_come_from_the_file_headers_not_from_removed_lines() {
        let text = "Subject: x\n\n--- a/src/core/main.c\n+++ b/src/core/main.c\n@@ -1 +1 @@\n--- not a header\n+++ nor this\n--- /dev/null\n+++ b/docs/NEW.md\t2020-01-01\n@@ -0,0 +1 @@\n+x\n";
        assert_eq!(touched_paths(text), vec!["src/core/main.c", "docs/NEW.md"]);
    }

    #[test]
    fn similarity_is_dice() {
        let a: Vec<String> = ["+a", "+b", "-c", "+d"].map(String::from).to_vec();
        let b: Vec<String> = ["+a", "+b", "-c", "+e"].map(String::from).to_vec();
        assert!((similarity(&a, &b) - 0.75).abs() < 1e-9);
        assert!((similarity(&a, &a) - 1.0).abs() < 1e-9);
        assert!(similarity(&a, &[]) < 1e-9);
    }
}
