//! Carried patches over a dist-git repository's first-parent history, so the debt trend
//! exists from the first scan.
//!
//! Reads git objects through the `git` command (`git log --raw` for which spec blobs changed,
//! one `git cat-file --batch` process for their contents) instead of checking commits out.
//! We use the git CLI rather than `gix`/`git2`: every dist-git host has git, and either crate
//! would roughly double the build for two plumbing commands.

use super::spec;
use crate::model::Warning;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::Stdio;

/// The carried patches of one package after one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPoint {
    pub package: String,
    pub commit: String,
    /// Committer time, seconds since the epoch.
    pub time: i64,
    /// The same time in the committer's own zone (RFC 3339).
    pub at: String,
    pub patches: BTreeSet<String>,
    /// Each patch file's blob (empty when the spec names a file that is not there).
    pub blobs: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{path} is not inside a git repository")]
    NotARepository { path: String },
    #[error("running git in {path}: {source}")]
    Git {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("git {what} in {path} failed: {stderr}")]
    GitFailed {
        path: String,
        what: String,
        stderr: String,
    },
}

/// Walks the first-parent history of the repository containing `dir` (only files below
/// `dir`), oldest first, and returns a point each time a package's carried patches changed
/// (a file added, dropped, renamed or edited). A package is followed by its name, so a spec
/// moved to another folder in one commit is the same package, not a drop and a re-add.
///
/// # Errors
/// When `dir` is not in a git repository or git fails; unparsable specs are warnings.
pub fn walk(
    dir: &Path,
    macros: &HashMap<String, String>,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<HistoryPoint>, HistoryError> {
    let shown = dir.to_string_lossy().into_owned();
    let git = |args: &[&str]| -> Result<Vec<u8>, HistoryError> {
        let out = crate::git::in_work_tree(dir)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| HistoryError::Git {
                path: shown.clone(),
                source,
            })?;
        if !out.status.success() {
            return Err(HistoryError::GitFailed {
                path: shown.clone(),
                what: args.first().copied().unwrap_or_default().to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(out.stdout)
    };
    match git(&["rev-parse", "--is-inside-work-tree"]) {
        Ok(o) if o.starts_with(b"true") => {}
        _ => return Err(HistoryError::NotARepository { path: shown }),
    }
    if git(&["rev-parse", "--verify", "-q", "HEAD"]).is_err() {
        return Ok(Vec::new()); // a repository with no commit yet
    }
    // Oldest first; for each commit every file it changed below `dir` against its first
    // parent (paths from the repository's top), with the committer's own time zone.
    let log = git(&[
        "log",
        "--first-parent",
        "--reverse",
        "--raw",
        "--no-abbrev",
        "--no-renames",
        "-z",
        "--format=%x01commit %H %ct %cI",
        "--",
        ".",
    ])?;
    let changes = parse_raw_log(&log);
    let mut reader = BlobReader::start(dir).map_err(|source| HistoryError::Git {
        path: shown.clone(),
        source,
    })?;
    // Every file's blob now; each spec's package and patch files now.
    let mut blobs: HashMap<String, String> = HashMap::new();
    let mut specs: HashMap<String, (String, Vec<String>)> = HashMap::new();
    let mut parsed: HashMap<String, (String, Vec<String>)> = HashMap::new();
    // What was last reported per package.
    let mut last: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    let mut points = Vec::new();
    for c in changes {
        let mut touched_dirs: BTreeSet<String> = BTreeSet::new();
        let mut touched: BTreeSet<String> = BTreeSet::new();
        for (path, blob) in &c.files {
            match blob {
                Some(b) => blobs.insert(path.clone(), b.clone()),
                None => blobs.remove(path),
            };
            touched_dirs.insert(parent_of(path).to_string());
            if !path.ends_with(".spec") {
                continue;
            }
            if let Some((name, _)) = specs.get(path) {
                touched.insert(name.clone());
            }
            match blob {
                Some(b) => {
                    if !parsed.contains_key(b) {
                        let bytes = reader.read(b).map_err(|source| HistoryError::Git {
                            path: shown.clone(),
                            source,
                        })?;
                        let label = format!("{path}@{}", &c.sha[..12.min(c.sha.len())]);
                        let s = spec::parse(&bytes, &label, macros, warnings);
                        let name = s
                            .name
                            .clone()
                            .filter(|n| !n.contains('%'))
                            .unwrap_or_else(|| stem(path));
                        let files = s
                            .patches
                            .iter()
                            .map(|p| super::spec::patch_file_name(&p.value))
                            .collect();
                        parsed.insert(b.clone(), (name, files));
                    }
                    if let Some(p) = parsed.get(b) {
                        touched.insert(p.0.clone());
                        specs.insert(path.clone(), p.clone());
                    }
                }
                None => {
                    specs.remove(path);
                }
            }
        }
        // A patch file edited, added or moved beside a spec changes that package too.
        for (path, (name, _)) in &specs {
            if touched_dirs.contains(parent_of(path)) {
                touched.insert(name.clone());
            }
        }
        for name in touched {
            // The package's patches as its spec(s) name them, with their files' blobs.
            let mut now: BTreeMap<String, String> = BTreeMap::new();
            for (path, (_, files)) in specs.iter().filter(|(_, (n, _))| *n == name) {
                let folder = parent_of(path);
                for f in files {
                    let at = if folder.is_empty() {
                        f.clone()
                    } else {
                        format!("{folder}/{f}")
                    };
                    now.insert(f.clone(), blobs.get(&at).cloned().unwrap_or_default());
                }
            }
            if last.get(&name).is_some_and(|l| *l == now)
                || (now.is_empty() && !last.contains_key(&name))
            {
                continue;
            }
            points.push(HistoryPoint {
                package: name.clone(),
                commit: c.sha.clone(),
                time: c.time,
                at: c.at.clone(),
                patches: now.keys().cloned().collect(),
                blobs: now.clone(),
            });
            last.insert(name, now);
        }
    }
    Ok(points)
}

/// One first-parent commit of the raw log.
struct RawCommit {
    sha: String,
    time: i64,
    /// Committer date in the committer's own zone (ISO 8601).
    at: String,
    /// `(path, new blob or None when deleted)`.
    files: Vec<(String, Option<String>)>,
}

/// `git log --raw -z --format=%x01commit …`: commits separated by `\x01`; in each, the header
/// line, then `:meta\0path\0` pairs.
fn parse_raw_log(log: &[u8]) -> Vec<RawCommit> {
    let text = String::from_utf8_lossy(log);
    let mut out = Vec::new();
    for chunk in text.split('\u{1}').filter(|c| !c.is_empty()) {
        let mut parts = chunk.split('\0');
        let Some(head) = parts.next() else { continue };
        let head = head.trim();
        let Some(rest) = head.strip_prefix("commit ") else {
            continue;
        };
        let mut it = rest.split(' ');
        let sha = it.next().unwrap_or_default().to_string();
        let time = it.next().and_then(|t| t.parse().ok()).unwrap_or(0);
        let at = it.next().unwrap_or_default().trim().to_string();
        let mut files = Vec::new();
        let rest: Vec<&str> = parts.collect();
        let mut i = 0;
        while i + 1 < rest.len() {
            let meta = rest[i].trim_start_matches('\n');
            let path = rest[i + 1];
            i += 2;
            let Some(meta) = meta.strip_prefix(':') else {
                continue;
            };
            // 100644 100644 <old> <new> M
            let fields: Vec<&str> = meta.split(' ').collect();
            let (Some(new), Some(status)) = (fields.get(3), fields.get(4)) else {
                continue;
            };
            let blob = (!status.starts_with('D')).then(|| new.to_string());
            files.push((path.to_string(), blob));
        }
        out.push(RawCommit {
            sha,
            time,
            at,
            files,
        });
    }
    out
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

/// One carried patch's life in dist-git: added by one commit, dropped by another (or still
/// carried). A file renamed with the same content is the same patch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Lifetime {
    pub package: String,
    /// Its name when last carried.
    pub file: String,
    pub added_at: String,
    pub added_in: String,
    pub dropped_at: Option<String>,
    pub dropped_in: Option<String>,
}

/// Every patch's lifetimes from `points` (oldest first): a patch dropped and added again
/// has two.
pub fn lifetimes(points: &[HistoryPoint]) -> Vec<Lifetime> {
    // Open lifetimes per package: file -> (index in `out`, blob).
    let mut open: HashMap<&str, HashMap<String, (usize, String)>> = HashMap::new();
    let mut out: Vec<Lifetime> = Vec::new();
    for p in points {
        let carried = open.entry(p.package.as_str()).or_default();
        let gone: Vec<String> = carried
            .keys()
            .filter(|f| !p.blobs.contains_key(*f))
            .cloned()
            .collect();
        let new: Vec<(&String, &String)> = p
            .blobs
            .iter()
            .filter(|(f, _)| !carried.contains_key(*f))
            .collect();
        let mut gone_by_blob: HashMap<String, String> = gone
            .iter()
            .filter_map(|f| {
                let (_, blob) = carried.get(f)?;
                (!blob.is_empty()).then(|| (blob.clone(), f.clone()))
            })
            .collect();
        let mut renamed: BTreeSet<String> = BTreeSet::new();
        for (file, blob) in new {
            // The same content under a new name (a `git mv` and the Patch line renamed).
            if let Some(old) = gone_by_blob.remove(blob)
                && let Some((i, _)) = carried.remove(&old)
            {
                out[i].file = file.clone();
                carried.insert(file.clone(), (i, blob.clone()));
                renamed.insert(old);
                continue;
            }
            out.push(Lifetime {
                package: p.package.clone(),
                file: file.clone(),
                added_at: p.at.clone(),
                added_in: p.commit.clone(),
                dropped_at: None,
                dropped_in: None,
            });
            carried.insert(file.clone(), (out.len() - 1, blob.clone()));
        }
        for f in gone.into_iter().filter(|f| !renamed.contains(f)) {
            if let Some((i, _)) = carried.remove(&f) {
                out[i].dropped_at = Some(p.at.clone());
                out[i].dropped_in = Some(p.commit.clone());
            }
        }
        // An edited patch keeps its life; its blob is the new one.
        for (f, blob) in &p.blobs {
            if let Some(entry) = carried.get_mut(f) {
                entry.1 = blob.clone();
            }
        }
    }
    out
}

fn stem(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.strip_suffix(".spec").unwrap_or(base).to_string()
}

/// One long-lived `git cat-file --batch`: a request per blob costs a pipe write, not a process.
struct BlobReader {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
}

impl BlobReader {
    fn start(dir: &Path) -> std::io::Result<BlobReader> {
        let mut child = crate::git::in_work_tree(dir)
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("no stdin"))?;
        let stdout = BufReader::new(
            child
                .stdout
                .take()
                .ok_or_else(|| std::io::Error::other("no stdout"))?,
        );
        Ok(BlobReader {
            child,
            stdin,
            stdout,
        })
    }

    fn read(&mut self, blob: &str) -> std::io::Result<Vec<u8>> {
        writeln!(self.stdin, "{blob}")?;
        self.stdin.flush()?;
        let mut header = String::new();
        self.stdout.read_line(&mut header)?;
        // "<sha> blob <size>" or "<sha> missing"
        let size: usize = header
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("git cat-file: {}", header.trim())))?;
        if size as u64 > super::MAX_FILE_BYTES {
            return Err(std::io::Error::other(format!(
                "blob {blob} is {size} bytes"
            )));
        }
        let mut buf = vec![0; size + 1]; // content and the trailing newline
        self.stdout.read_exact(&mut buf)?;
        buf.pop();
        Ok(buf)
    }
}

impl Drop for BlobReader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
